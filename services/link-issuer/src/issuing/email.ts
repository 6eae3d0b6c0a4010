import type { PersonalData } from '@paylinks/contracts'
import type { MerchantDirectory } from '../dojo.js'
import type { IssuerLinkState } from '../link.js'
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

/**
 * E-mail the link to its customer; the SMTP message id, or undefined when it was not sent (the
 * recovery sweep tries again). Recording `sent` is a decision of its own.
 */
export async function emailLink (
  state: IssuerLinkState,
  options: { mailer: Mailer, merchants: MerchantDirectory, log: { warn: (obj: object, msg: string) => void } }
): Promise<string | undefined> {
  const personal = personalOf(state)
  if (personal?.email === undefined) return undefined
  const merchant = await options.merchants.get(state.merchantId)
  try {
    return await options.mailer.sendLink({
      to: personal.email,
      ...(personal.name === undefined ? {} : { name: personal.name }),
      merchantName: merchant?.name ?? 'The merchant',
      url: state.url!,
      amount: state.amount,
      reference: state.reference,
      ...(state.description === undefined ? {} : { description: state.description }),
      expiresAt: state.expiresAt
    })
  } catch (error) {
    options.log.warn({ err: error, linkId: state.linkId }, 'link e-mail not sent; the recovery sweep tries again')
    return undefined
  }
}
