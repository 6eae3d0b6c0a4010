import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { CommandErrorCodes, handleCommand, type KnownState, type RetryOptions } from '@paylinks/commands'
import { paymentLinkStream, PaymentLinkRequested, splitMetadata, type NewEvent } from '@paylinks/contracts'
import { isDojoError, isDojoRefusal, type DojoClient, type PaymentIntent } from '@paylinks/dojo-client'
import type { EventStore } from '@paylinks/event-store'
import type { CustomerKeys, Merchant } from '@paylinks/merchants'
import type { EventPublisher } from '@paylinks/messaging'
import { LinkErrorCodes, linkError } from './errors.js'
import { createIntentOnce } from './issuing/dojo-intent.js'
import { decideAbandon, decideCancel, HOLD_ENDED_CODE, decideOpened, decideOutcome, decideReminded, decideRenewed, decideRequest, decideResent, decideSent, isRenewable, type LinkRequest } from './issuing/decisions.js'
import { emailLink, emailReminder, needsEmail, personalOf, reminderDue } from './issuing/email.js'
import { createLeases, createTurnScheduler, type Lease } from './issuing/leases.js'
import { acceptEmail, claimEmail, releaseEmail } from './repositories/email-claims.js'
import { acceptReminder, claimReminder, releaseReminder } from './repositories/reminders.js'
import { countOpen, markOpensPublished, unpublishedOpens, type OpenCount } from './repositories/opens.js'
import { claimExisting, createReferenceClaims, takeOverClaim, type ReferenceHolder } from './repositories/references.js'
import { evolveIssuerLink, foldLink, linkIdFor, metadataView, renewalLinkIdFor, renewalReferenceFor, customerView, type IssuerLinkState } from './link.js'
import type { MerchantDirectory } from './dojo.js'
import type { Mailer } from './mailer.js'
import type { ReminderPolicy } from './schemas.js'
import type { Db } from './tables.js'

export type { LinkRequest } from './issuing/decisions.js'

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface IssuerOptions {
  db: Db
  store: EventStore
  publisher: EventPublisher
  merchants: MerchantDirectory
  /** Customers' data keys: personal data is sealed before it is published, opened where it is used. */
  customers: CustomerKeys
  mailer?: Mailer
  publicUrl: string
  /** How long an issue lease lasts without its heartbeat (renewed every third of it while held). */
  leaseMs: number
  /** This process's instance lock key (issuing/instance.ts): its leases are free once its process is gone. */
  ownerLock: () => number
  /** How long a request waits for another holder's outcome before answering LINK_IN_PROGRESS. */
  waitMs: number
  /** After the first open, `payment-link.opened` carries a new count at most this often. */
  openEventIntervalMs: number
  /**
   * A reference claimed this long ago whose link still has no event was never requested (the
   * claimer failed before its publish): another requester may take it over. Default 5 minutes.
   */
  claimTakeoverMs?: number
  log: Log
}

export interface Issuer {
  /** Ask for a link and drive it to its outcome (issued or failed), exactly once per reference. */
  request: (input: LinkRequest) => Promise<IssuerLinkState>
  /** Drive a requested link to its outcome (recovery after a crash or an outage). */
  resume: (linkId: string) => Promise<IssuerLinkState | undefined>
  /**
   * The order gave up (attempts exhausted): its link, if still requested, becomes failed, decided
   * on the link's stream, so the recovery sweep can never issue it after the order is rejected.
   * The link after it: `issued` when it was issued first (then the order must not be rejected).
   */
  abandonOrder: (merchantId: string, orderId: string, reference: string, reason: string) => Promise<IssuerLinkState | undefined>
  /** The link as its events tell it, its customer's personal data opened (or erased). */
  load: (linkId: string) => Promise<IssuerLinkState | undefined>
  cancel: (merchant: Merchant, linkId: string, reason?: string) => Promise<IssuerLinkState>
  /**
   * E-mail the link to its customer now, on a merchant's request (POST …/email): the first e-mail
   * through the same claim as the create path's (never twice), a later one as a resend; each
   * recorded as `payment-link.sent`. 409 when the link can no longer be paid or has no address.
   */
  email: (merchant: Merchant, linkId: string) => Promise<IssuerLinkState>
  /**
   * The customer of an expired or canceled link asks for a fresh one (where its merchant allows
   * it): the renewal link (same amount, customer, order…, a fresh expiry) is requested, named on
   * the old link by `payment-link.renewed`, and driven to its outcome. Once per old link: asking
   * again gets the same renewal.
   */
  renew: (linkId: string) => Promise<IssuerLinkState>
  /**
   * A reusable link's admitted payer gets a link of their own: `linkId` follows from the reusable
   * link and the admission, so a retry of the admission's request meets the same link.
   */
  requestChild: (input: LinkRequest, linkId: string) => Promise<IssuerLinkState>
  /** Stop a reusable link's payer's link still requested when its hold ended (non-retryable `issue-failed`), so nothing issues it later; the link after it. */
  abandon: (linkId: string, reason: string) => Promise<IssuerLinkState | undefined>
  /**
   * The customer opened the link's short URL: counted, and `payment-link.opened` published at the
   * first open (before the caller sends them on) and then at most once per interval.
   */
  countOpen: (state: IssuerLinkState) => Promise<void>
  /** Publish the counts of opens that waited longer than the interval (the sweep's); how many. */
  flushOpens: () => Promise<number>
  /**
   * Send the link's next reminder if it is due at `now` under `policy` (checked on its events),
   * at most once per link and number whatever the replicas and crashes; the number sent (or
   * recorded from an earlier accepted send), or undefined when none was due or it was not sent.
   */
  remind: (linkId: string, policy: ReminderPolicy, now?: Date) => Promise<number | undefined>
  /** Resolves once the store has recorded the link's last event (read-your-own-write). */
  settle: (state: IssuerLinkState) => Promise<void>
  /** Deletes the leases still waiting to be deleted; call before closing the database. */
  close: () => Promise<void>
}

type Decide = (state: IssuerLinkState | undefined) => NewEvent[]

const known = (state: IssuerLinkState): KnownState<IssuerLinkState | undefined> =>
  ({ state, position: state.position, version: state.events.at(-1)?.streamVersion ?? 0 })

/**
 * The issuer: leases (one creator per link), the Dojo intent (created never twice), the
 * decisions (published through handleCommand) and the e-mail, composed into request, drive and
 * cancel.
 */
export function createIssuer (options: IssuerOptions): Issuer {
  const { store, publisher, merchants, customers, log } = options
  const owner = randomUUID()
  // One dispatch per turn for the claims, takes and confirms: a claim statement carries the
  // confirms of its turn.
  const schedule = createTurnScheduler()
  const leases = createLeases({ db: options.db, owner, ownerLock: options.ownerLock, leaseMs: options.leaseMs, log, schedule })
  // A new reference's claim takes its link's lease too: one round trip before `requested`.
  const references = createReferenceClaims({ db: options.db, lease: { owner, ownerLock: options.ownerLock, leaseMs: options.leaseMs }, renewals: leases.ride, schedule })
  const claimTakeoverMs = options.claimTakeoverMs ?? 300_000
  const requestRetry: RetryOptions = { retries: 40, minDelayMs: 5, maxDelayMs: 200 }
  const fresh: KnownState<IssuerLinkState | undefined> = { state: undefined, position: 0, version: 0 }

  /**
   * The state with its customer's personal data opened (one batched key read per turn, cached
   * briefly); its timeline shows the customer as the link does, never the sealed or v1 clear form.
   */
  async function opened (state: IssuerLinkState): Promise<IssuerLinkState> {
    if (state.customer === undefined) return state
    const personal = state.personal ?? await customers.open(state.merchantId, state.customer)
    const view = customerView({ customer: state.customer, personal })
    const events = state.events.map((e) => e.type === PaymentLinkRequested.type && e.data.customer !== undefined ? { ...e, data: { ...e.data, customer: view } } : e)
    return { ...state, personal, events }
  }

  async function load (linkId: string): Promise<IssuerLinkState | undefined> {
    const state = foldLink(await store.readStream(paymentLinkStream(linkId)))
    return state === undefined ? undefined : await opened(state)
  }

  /** Decide on the link from `from` (or a fresh read) and publish; the state after it. */
  async function decideOn (linkId: string, decide: Decide, from?: KnownState<IssuerLinkState | undefined>, retry?: RetryOptions): Promise<{ state: IssuerLinkState | undefined, published: boolean }> {
    try {
      const result = await handleCommand({
        store, publisher, streamId: paymentLinkStream(linkId), initialState: () => undefined, evolve: evolveIssuerLink, decide, retry, ...(from === undefined ? {} : { known: from })
      })
      return { state: result.state, published: result.events.length > 0 }
    } catch (error) {
      if ((error as { code?: string }).code === CommandErrorCodes.contended) {
        throw linkError(LinkErrorCodes.contention, 503, 'The link is being changed by others; retry shortly.', { linkId }, error)
      }
      throw error
    }
  }

  /**
   * E-mail the issued link, at most once per link whatever the replicas and retries: the e-mail is
   * claimed in li_email_claims before it is sent. A crash after the claim and before the SMTP
   * server's answer leaves the claim `sending`: that link is never e-mailed again (we cannot know
   * whether the server took it, and the issue asks for at most one e-mail, not at least one). An
   * e-mail the server accepted is marked `accepted` with its message id, so `sent` is published
   * from that after a crash, without sending again. A certain refusal gives the claim back.
   */
  async function sendEmail (initial: IssuerLinkState): Promise<IssuerLinkState> {
    const state = await opened(initial)
    if (options.mailer === undefined || !needsEmail(state, options.mailer)) return state
    const claim = await claimEmail(options.db, state.linkId)
    let messageId: string
    if (claim.claimed) {
      const result = await emailLink(state, { mailer: options.mailer, merchants, publicUrl: options.publicUrl, log })
      if (!('messageId' in result)) {
        if (result.definite) await releaseEmail(options.db, state.linkId)
        return state
      }
      messageId = result.messageId
      await acceptEmail(options.db, state.linkId, messageId).catch((error: unknown) => {
        // Accepted by SMTP but not marked: the claim stays `sending`, so it is still never re-sent.
        log.warn({ err: error, linkId: state.linkId }, 'link e-mailed but its claim not marked accepted')
      })
    } else if (claim.status === 'accepted') {
      messageId = claim.messageId ?? ''
    } else {
      return state
    }
    try {
      return (await decideOn(state.linkId, (s) => decideSent(s, messageId), known(state), { retries: 40 })).state ?? state
    } catch (error) {
      // The link is issued and e-mailed; failing the request now would only make it retried.
      log.warn({ err: error, linkId: state.linkId }, 'link e-mailed but its sent event not published')
      return state
    }
  }

  /**
   * Reminder n of the link, claimed in li_reminder_claims (link, n) before it is sent, as the
   * link's e-mail is in li_email_claims: a crash between the claim and the SMTP server's answer
   * leaves it `sending`, and that reminder is never sent (nor, then, the later ones); an accepted
   * one is recorded as `payment-link.reminded` from its claim, again after a crash.
   */
  async function remind (linkId: string, policy: ReminderPolicy, now = new Date()): Promise<number | undefined> {
    const mailer = options.mailer
    if (mailer === undefined) return undefined
    const state = await load(linkId)
    if (state === undefined) return undefined
    const reminder = reminderDue(state, policy, now)
    if (reminder === undefined) return undefined
    const claim = await claimReminder(options.db, linkId, reminder)
    let messageId: string
    if (claim.claimed) {
      const result = await emailReminder(state, reminder, { mailer, merchants, publicUrl: options.publicUrl, log })
      if (!('messageId' in result)) {
        if (result.definite) await releaseReminder(options.db, linkId, reminder)
        return undefined
      }
      messageId = result.messageId
      await acceptReminder(options.db, linkId, reminder, messageId).catch((error: unknown) => {
        log.warn({ err: error, linkId, reminder }, 'reminder e-mailed but its claim not marked accepted')
      })
    } else if (claim.status === 'accepted') {
      messageId = claim.messageId ?? ''
    } else {
      return undefined
    }
    await decideOn(linkId, (s) => decideReminded(s, reminder, messageId), known(state), { retries: 40 })
    return reminder
  }

  async function publishOpens (count: OpenCount, from?: KnownState<IssuerLinkState | undefined>): Promise<void> {
    await decideOn(count.linkId, (s) => decideOpened(s, count), from, { retries: 20 })
    await markOpensPublished(options.db, count.linkId, count.opens)
  }

  /**
   * An intent this holder has that the link's recorded outcome does not name (a fenced holder's,
   * or one whose outcome lost the race): cancel it at Dojo, so the link has one payable intent.
   */
  async function disown (state: IssuerLinkState, mine: { intent: PaymentIntent, client: DojoClient }): Promise<void> {
    if (state.paymentIntentId === mine.intent.id) return
    try {
      await mine.client.cancelPaymentIntent(mine.intent.id)
      log.warn({ linkId: state.linkId, paymentIntentId: mine.intent.id, recorded: state.paymentIntentId }, 'canceled a second intent the link does not use')
    } catch (error) {
      log.error({ err: error, linkId: state.linkId, paymentIntentId: mine.intent.id }, 'a second intent the link does not use was not canceled at Dojo')
    }
  }

  /**
   * Take the link from `requested` to issued or failed; `fresh` when we just requested it.
   *
   * Why a late holder (one whose lease was taken over while its create was in flight: a pause, a
   * lost Postgres session) is harmless:
   * - it publishes no outcome once it knows it lost the lease (`confirm` renews its generation
   *   right before publishing; the heartbeat tells it earlier);
   * - it may learn too late (lease lost between `confirm` and the publish): the outcome is published
   *   on the sequence of the link's `requested` event (expected last subject sequence), so of the
   *   two holders' outcomes at most one lands; the other is refused, reloads and finds the link
   *   decided (`decideOutcome` returns nothing);
   * - the next holder looks the intent up by its unique Dojo reference before creating one (Dojo
   *   has no idempotency key for creates: the reference is ours), so an intent created before that
   *   look-up is adopted, not duplicated;
   * - an intent created after it (the late create landed last) is named by no outcome: its holder
   *   cancels it at Dojo once it sees the outcome (`disown`). Its URL was never published, so no
   *   customer can hold it. test/leases-fencing.test.ts shows each case with real processes.
   */
  async function drive (initial: IssuerLinkState, fresh: boolean, taken?: Lease): Promise<IssuerLinkState> {
    let state = initial
    const deadline = Date.now() + options.waitMs
    let lookFirst = !fresh
    let mine: { intent: PaymentIntent, client: DojoClient } | undefined
    for (let round = 0; ; round++) {
      if (state.status !== 'requested') {
        if (round === 0 && taken !== undefined) leases.releaseLater(taken)
        if (mine !== undefined) await disown(state, mine)
        return await sendEmail(state)
      }
      const lease = round === 0 && taken !== undefined ? taken : await leases.take(state.linkId)
      if (lease !== undefined) {
        try {
          // Holding the lease, re-read unless our state is the one we just wrote: another holder
          // may have finished since we loaded.
          if (round > 0 || !fresh) {
            state = (await load(state.linkId)) ?? state
            if (state.status !== 'requested') continue
          }
          const merchant = await merchants.get(state.merchantId)
          if (merchant === undefined) throw linkError(LinkErrorCodes.merchantUnknown, 422, `merchant ${state.merchantId} no longer exists`)
          const client = await merchants.dojo(merchant)
          state = await opened(state)
          const outcome = await createIntentOnce(client, state, { lookFirst, publicUrl: options.publicUrl, log })
          lookFirst = true
          if ('intent' in outcome) mine = { intent: outcome.intent, client }
          if (!await leases.confirm(lease)) {
            // Fenced: another holder has the link now and decides it; we wait for its outcome.
            log.warn({ linkId: state.linkId, paymentIntentId: mine?.intent.id }, 'issue lease lost during the create; outcome left to its new holder')
            state = (await load(state.linkId)) ?? state
            continue
          }
          const decided = await decideOn(state.linkId, (s) => decideOutcome(s, outcome, client.baseUrl), known(state))
          state = decided.state ?? state
          if (decided.published && state.status === 'issued') log.info({ linkId: state.linkId, paymentIntentId: state.paymentIntentId }, 'link issued')
          continue
        } finally {
          if (state.status === 'requested') await leases.release(lease)
          else leases.releaseLater(lease)
        }
      } else if (Date.now() > deadline) {
        if (mine !== undefined) log.warn({ linkId: state.linkId, paymentIntentId: mine.intent.id }, 'gave up waiting for the new holder; an intent of ours may stay unused at Dojo until it expires')
        throw linkError(LinkErrorCodes.inProgress, 503, 'Another request is issuing this link right now; retry shortly with the same Idempotency-Key.', { linkId: state.linkId })
      }
      await sleep(Math.min(250, 10 * 2 ** Math.min(round, 5)) * (0.5 + Math.random()))
      state = (await load(state.linkId)) ?? state
    }
  }

  /**
   * The reference (or the order id) is held: by this request's earlier attempt, a retry that gets
   * its link; or by another, refused. Never a fresh create: a link still requested is driven
   * looking for its intent at Dojo first.
   */
  async function requestHeld (input: LinkRequest, linkId: string, holder: ReferenceHolder): Promise<IssuerLinkState> {
    if (holder.reference !== input.reference) {
      throw linkError(LinkErrorCodes.orderTaken, 409, `Order '${input.orderId ?? ''}' already has link ${holder.linkId} (reference '${holder.reference}').`, { linkId: holder.linkId, reference: holder.reference })
    }
    const state = await load(linkId)
    if (state !== undefined) {
      // The link's events name its requester: decideRequest refuses anyone else, replays ours.
      const decided = await decideOn(linkId, (s) => decideRequest(s, input, linkId), known(state), requestRetry)
      return await drive(decided.state ?? state, false)
    }
    // An order's claim is never taken over: its order is redelivered and resumes it.
    const mayTakeOver = holder.orderId === null && input.orderId === undefined
    if (holder.requestedBy !== input.causationId && !(mayTakeOver && await takeOverClaim(options.db, holder, input.causationId, claimTakeoverMs))) {
      throw linkError(LinkErrorCodes.referenceTaken, 409, `Reference '${input.reference}' is already used by link ${linkId}.`, { linkId, reference: input.reference })
    }
    // Claimed but not recorded: the earlier attempt failed before its publish, or the recorder is
    // behind (then JetStream still holds its event and refuses ours until we read it).
    const decided = await decideOn(linkId, (s) => decideRequest(s, input, linkId), fresh, requestRetry)
    return await drive(decided.state!, false)
  }

  /**
   * Request a link whose id is not from the merchant's reference space (a renewal, a reusable
   * link's payer), so no reference claim: its id is derived, and every request of it meets on its
   * stream. `then` runs once it is requested, before it is driven to its outcome.
   */
  async function requestUnclaimed (input: LinkRequest, linkId: string, then?: () => Promise<void>): Promise<IssuerLinkState> {
    const decided = await decideOn(linkId, (s) => decideRequest(s, input, linkId), fresh, requestRetry)
    await then?.()
    return await opened(await drive(decided.state!, decided.published))
  }

  return {
    load,
    async request (input) {
      const linkId = linkIdFor(input.merchant.id, input.reference)
      // The customer's personal data leaves this process only sealed under the customer's key.
      const personal = splitMetadata(input.metadata).personal
      const sealedCustomer = await customers.seal(input.merchant.id, linkId, { ...input.customer, ...(personal === undefined ? {} : { metadata: personal }) })
      const sealed: LinkRequest = { ...input, ...(sealedCustomer === undefined ? {} : { sealedCustomer }) }
      const claim = { merchantId: input.merchant.id, reference: input.reference, linkId, requestedBy: input.causationId, ...(input.orderId === undefined ? {} : { orderId: input.orderId }) }
      const claimed = await references.claim(claim)
      if (claimed.claimed) {
        // A new reference has no stream, so publish at expected sequence 0 before reading; a
        // rival's event still in JetStream refuses it and we reload.
        const lease = claimed.generation === undefined ? undefined : leases.adopt(linkId, claimed.generation)
        let decided
        try {
          decided = await decideOn(linkId, (s) => decideRequest(s, sealed, linkId), fresh, requestRetry)
        } catch (error) {
          if (lease !== undefined) await leases.release(lease).catch(() => {})
          throw error
        }
        return await opened(await drive(decided.state!, decided.published, lease))
      }
      if ('holder' in claimed) return await opened(await requestHeld(sealed, linkId, claimed.holder))
      // Requested before claims existed: its first requester (from its events) claims it now.
      const state = await load(linkId)
      const holder = state === undefined
        ? undefined
        : await claimExisting(options.db, { merchantId: claim.merchantId, reference: claim.reference, linkId, requestedBy: state.requestedBy, ...(state.orderId === undefined ? {} : { orderId: state.orderId }) })
      if (holder === undefined) throw linkError(LinkErrorCodes.referenceTaken, 409, `Reference '${input.reference}' is already used by link ${linkId}.`, { linkId, reference: input.reference })
      return await opened(await requestHeld(sealed, linkId, holder))
    },
    async resume (linkId) {
      const state = await load(linkId)
      if (state === undefined) return undefined
      return await opened(await drive(state, false))
    },
    async abandonOrder (merchantId, orderId, reference, reason) {
      const linkId = linkIdFor(merchantId, reference)
      const state = await load(linkId)
      // No link, or another order's (a reference taken): nothing of this order to stop.
      if (state === undefined || state.orderId !== orderId || state.merchantId !== merchantId) return undefined
      return (await decideOn(linkId, (s) => decideAbandon(s, reason), known(state), { retries: 20 })).state
    },
    async cancel (merchant, linkId, reason) {
      const state = await load(linkId)
      if (state === undefined || state.merchantId !== merchant.id) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
      if (state.status === 'canceled') return state
      if (state.status !== 'issued' || state.paymentIntentId === undefined) {
        throw linkError(LinkErrorCodes.notCancelable, 409, `Link ${linkId} is ${state.status}; only an issued, unpaid link can be canceled.`, { linkId, linkStatus: state.status })
      }
      const client = await merchants.dojo(merchant)
      try {
        await client.cancelPaymentIntent(state.paymentIntentId)
      } catch (error) {
        if (isDojoError(error, 'DOJO_CONFLICT')) throw linkError(LinkErrorCodes.notCancelable, 409, `Dojo will not cancel link ${linkId}: its payment has moved on (paid or authorised).`, { linkId }, error)
        if (isDojoError(error, 'DOJO_NOT_FOUND')) {
          const intent = await client.getPaymentIntent(state.paymentIntentId, { returnCanceled: true })
          if (intent.status !== 'Canceled') throw error
        } else if (isDojoError(error) && !isDojoRefusal(error)) {
          throw linkError(LinkErrorCodes.dojoUnavailable, 503, 'Dojo did not answer; nothing changed, retry the cancel.', { linkId }, error)
        } else throw error
      }
      // Dojo has canceled the intent: record it on whatever the link is now.
      return await opened((await decideOn(linkId, (s) => decideCancel(s, linkId, reason), known(state), { retries: 20 })).state!)
    },
    async email (merchant, linkId) {
      const loaded = await load(linkId)
      if (loaded === undefined || loaded.merchantId !== merchant.id) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
      const state = await opened(loaded)
      if (options.mailer === undefined) throw linkError(LinkErrorCodes.emailUnavailable, 409, 'This service sends no e-mail (SMTP_URL is not set).', { linkId })
      if (state.status !== 'issued' || state.url === undefined || new Date(state.expiresAt).getTime() <= Date.now()) {
        throw linkError(LinkErrorCodes.notPayable, 409, `Link ${linkId} is ${state.status === 'issued' ? 'expired' : state.status}: it can no longer be paid, so it is not e-mailed.`, { linkId, linkStatus: state.status })
      }
      if (personalOf(state)?.email === undefined) throw linkError(LinkErrorCodes.noCustomerEmail, 409, `Link ${linkId} has no customer e-mail address (none was given, or the customer was erased).`, { linkId })
      const first = state.emailSentAt === undefined
      // The first e-mail is claimed as the create path's is: it may be the one a create asked for.
      if (first && !(await claimEmail(options.db, state.linkId)).claimed) {
        throw linkError(LinkErrorCodes.contention, 503, 'The link\'s e-mail is being sent right now; retry shortly.', { linkId })
      }
      const result = await emailLink(state, { mailer: options.mailer, merchants, publicUrl: options.publicUrl, log })
      if (!('messageId' in result)) {
        if (first && result.definite) await releaseEmail(options.db, state.linkId)
        throw linkError(LinkErrorCodes.emailFailed, 503, 'The mail server did not take the e-mail; retry shortly.', { linkId })
      }
      if (first) await acceptEmail(options.db, state.linkId, result.messageId)
      const decided = await decideOn(linkId, (s) => first ? decideSent(s, result.messageId) : decideResent(s, result.messageId), known(state), { retries: 40 })
      return await opened(decided.state ?? state)
    },
    async renew (oldLinkId) {
      const old = await load(oldLinkId)
      if (old === undefined) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${oldLinkId}.`, { linkId: oldLinkId })
      const merchant = await merchants.get(old.merchantId)
      if (merchant === undefined) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${oldLinkId}.`, { linkId: oldLinkId })
      const linkId = renewalLinkIdFor(oldLinkId)
      if (old.renewedAs === undefined) {
        if (!merchant.allowRenewal) throw linkError(LinkErrorCodes.renewalNotAllowed, 403, `${merchant.name} does not issue new links from expired or canceled ones.`, { linkId: oldLinkId })
        if (!isRenewable(old)) throw linkError(LinkErrorCodes.notRenewable, 409, `Link ${oldLinkId} is ${old.status}; only an expired or canceled link can be renewed.`, { linkId: oldLinkId, linkStatus: old.status })
      }
      // Renewed already (perhaps a crash before the renewal was driven): the same renewal, driven on.
      const existing = await load(linkId)
      if (existing !== undefined) {
        if (old.renewedAs === undefined) await decideOn(oldLinkId, (s) => decideRenewed(s, linkId), known(old), { retries: 20 })
        return await opened(await drive(existing, false))
      }
      const personal = old.personal !== undefined && !('erased' in old.personal) ? old.personal : undefined
      const first = old.events[0]?.data as { autoExpireAction?: LinkRequest['autoExpireAction'], autoExpireIn?: string } | undefined
      const metadata = metadataView(old)
      const customer = personal === undefined
        ? undefined
        : { ...(personal.email === undefined ? {} : { email: personal.email }), ...(personal.phone === undefined ? {} : { phone: personal.phone }), ...(personal.name === undefined ? {} : { name: personal.name }) }
      const sealedCustomer = personal === undefined ? undefined : await customers.seal(merchant.id, linkId, personal)
      const input: LinkRequest = {
        merchant,
        reference: renewalReferenceFor(old),
        amount: old.amount,
        ...(old.description === undefined ? {} : { description: old.description }),
        ...(customer === undefined ? {} : { customer }),
        ...(sealedCustomer === undefined ? {} : { sealedCustomer }),
        ...(old.redirectUrl === undefined ? {} : { redirectUrl: old.redirectUrl }),
        ...(metadata === undefined ? {} : { metadata }),
        // The customer is at the page asking for it: the new link opens at once, no e-mail.
        sendEmail: false,
        source: old.source,
        ...(old.orderId === undefined ? {} : { orderId: old.orderId }),
        captureMode: old.captureMode,
        ...(first?.autoExpireAction === undefined ? {} : { autoExpireAction: first.autoExpireAction }),
        ...(first?.autoExpireIn === undefined ? {} : { autoExpireIn: first.autoExpireIn }),
        renewalOf: oldLinkId,
        // One requester per old link: a repeat (or a racing second request) replays, never a third link.
        causationId: `renewal:${oldLinkId}`,
        correlationId: old.correlationId
      }
      // No reference claim: the renewal's id is not the merchant's reference space (renewalLinkIdFor),
      // and its order keeps its claim on the link it started with.
      return await requestUnclaimed(input, linkId, async () => {
        await decideOn(oldLinkId, (s) => decideRenewed(s, linkId), known(old), { retries: 20 })
        log.info({ linkId, renewalOf: oldLinkId }, 'link renewed')
      })
    },
    async requestChild (input, linkId) {
      return await requestUnclaimed(input, linkId)
    },
    async abandon (linkId, reason) {
      const state = await load(linkId)
      if (state === undefined) return undefined
      return (await decideOn(linkId, (s) => decideAbandon(s, reason, HOLD_ENDED_CODE), known(state), { retries: 20 })).state
    },
    async countOpen (state) {
      const count = await countOpen(options.db, state.linkId, options.openEventIntervalMs)
      if (count.due) await publishOpens(count, known(state))
    },
    async flushOpens () {
      const pending = await unpublishedOpens(options.db, options.openEventIntervalMs)
      for (const count of pending) await publishOpens(count)
      return pending.length
    },
    remind,
    async settle (state) {
      await store.waitForPosition(state.position, 10_000)
    },
    close: leases.close
  }
}
