import type { PersonalData } from '@paylinks/contracts'
import type { MerchantDirectory } from '../dojo.js'
import { shortUrlOf, type IssuerLinkState } from '../link.js'
import type { Mailer } from '../mailer.js'

/** The customer's opened personal data; undefined when there is none or the customer was erased. */
export function personalOf (state: IssuerLinkState): PersonalData | undefined {
  return state.personal === undefined || 'erased' in state.personal ? undefined : state.personal
}

/**
 * True when the link should be e-mailed now: issued, asked for, not sent yet, and we can. An
 * erased customer's link is never e-mailed (its address is gone).
 */
export function needsEmail (state: IssuerLinkState, mailer: Mailer | undefined): boolean {
  return state.status === 'issued' && state.sendEmail && state.emailSentAt === undefined && mailer !== undefined &&
    personalOf(state)?.email !== undefined && state.url !== undefined
}

/** What became of one e-mail: accepted by the SMTP server, or not sent (`definite`: certainly not). */
export type EmailResult = { messageId: string } | { failed: true, definite: boolean }

/**
 * True when an SMTP error proves the server did not take the message: it refused the login, the
 * sender, a recipient or the message itself, or nobody answered at all. A timeout or reset in
 * between may come after the server accepted it: then we cannot know.
 */
export function certainlyNotSent (error: unknown): boolean {
  const { code, errno } = error as { code?: string, errno?: string | number }
  return ['EAUTH', 'EENVELOPE', 'EMESSAGE', 'EDNS', 'EREQUIRETLS'].includes(code ?? '') || errno === 'ECONNREFUSED' || code === 'ECONNREFUSED'
}

interface EmailOptions { mailer: Mailer, merchants: MerchantDirectory, publicUrl: string, log: { warn: (obj: object, msg: string) => void } }

/**
 * Send one e-mail about the link to its customer with `send` (the link, or a reminder): the SMTP
 * message id, or why it was not sent (`definite`: certainly not), logged with `what` it was.
 */
async function emailCustomer (
  state: IssuerLinkState,
  send: (mailer: Mailer, input: Parameters<Mailer['sendLink']>[0]) => Promise<string>,
  options: EmailOptions,
  what: { log: Record<string, unknown>, notSent: string, unknown: string }
): Promise<EmailResult> {
  const personal = personalOf(state)
  if (personal?.email === undefined) return { failed: true, definite: true }
  const merchant = await options.merchants.get(state.merchantId)
  try {
    return {
      messageId: await send(options.mailer, {
        to: personal.email,
        ...(personal.name === undefined ? {} : { name: personal.name }),
        merchantName: merchant?.name ?? 'The merchant',
        // Our short URL, not Dojo's: opening it is recorded before the customer is sent on.
        url: shortUrlOf(options.publicUrl, state.linkId),
        amount: state.amount,
        reference: state.reference,
        ...(state.description === undefined ? {} : { description: state.description }),
        expiresAt: state.expiresAt
      })
    }
  } catch (error) {
    const definite = certainlyNotSent(error)
    options.log.warn({ err: error, linkId: state.linkId, ...what.log, definite }, definite ? what.notSent : what.unknown)
    return { failed: true, definite }
  }
}

/**
 * E-mail the link to its customer; the SMTP message id, or why it was not sent. Claiming the
 * e-mail first (one per link) and recording `sent` are the caller's.
 */
export async function emailLink (state: IssuerLinkState, options: EmailOptions): Promise<EmailResult> {
  return await emailCustomer(state, async (mailer, input) => await mailer.sendLink(input), options, {
    log: {},
    notSent: 'link e-mail not sent; the recovery sweep tries again',
    unknown: 'link e-mail may or may not have been accepted; not sent again (at most one e-mail per link)'
  })
}

/**
 * The number of the reminder the link is due at `now` under `policy`, or undefined: the link is
 * issued (not paid, canceled, failed, released…), was e-mailed, has not expired, has an address
 * (not erased), has had fewer than `maxReminders`, and its last e-mail (the link, or the last
 * reminder) is at least the policy's interval old. The rule on the link's events, so a read
 * model that trails the log cannot make a reminder due.
 */
export function reminderDue (state: IssuerLinkState, policy: { enabled: boolean, firstAfterSeconds: number, everySeconds: number, maxReminders: number }, now: Date): number | undefined {
  if (!policy.enabled || state.status !== 'issued' || state.emailSentAt === undefined || state.url === undefined) return undefined
  if (personalOf(state)?.email === undefined || new Date(state.expiresAt).getTime() <= now.getTime()) return undefined
  if (state.reminders >= policy.maxReminders) return undefined
  const last = new Date(state.lastRemindedAt ?? state.emailSentAt).getTime()
  const wait = (state.reminders === 0 ? policy.firstAfterSeconds : policy.everySeconds) * 1000
  return now.getTime() - last >= wait ? state.reminders + 1 : undefined
}

/** E-mail reminder `reminder` of the link to its customer; the SMTP message id, or why not. Claiming and recording are the caller's. */
export async function emailReminder (state: IssuerLinkState, reminder: number, options: EmailOptions): Promise<EmailResult> {
  return await emailCustomer(state, async (mailer, input) => await mailer.sendReminder(input), options, {
    log: { reminder },
    notSent: 'reminder not sent; a later sweep tries again',
    unknown: 'reminder may or may not have been accepted; not sent again (at most one e-mail per reminder)'
  })
}
