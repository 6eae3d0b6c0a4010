import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import DataLoader from 'dataloader'
import { sql } from 'kysely'
import { paymentLinkStream, type Customer, type Money, type NewEvent, type RecordedEvent } from '@paylinks/contracts'
import { isDojoError, type DojoClient, type PaymentIntent } from '@paylinks/dojo-client'
import type { EventStore } from '@paylinks/event-store'
import type { Merchant } from '@paylinks/merchants'
import { MessagingErrorCodes, type EventPublisher } from '@paylinks/messaging'
import { LinkErrorCodes, linkError } from './errors.js'
import { dojoReferenceFor, foldLink, linkIdFor, registry, type LinkState } from './link.js'
import type { MerchantDirectory } from './dojo.js'
import type { Mailer } from './mailer.js'
import type { Db } from './tables.js'

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface LinkRequest {
  merchant: Merchant
  reference: string
  amount: Money
  description?: string
  customer?: Customer
  expiresAt?: string
  redirectUrl?: string
  metadata?: Record<string, string>
  sendEmail: boolean
  source: 'api' | 'order'
  orderId?: string
  /** Same value on every retry of one request (idempotency key, order id): its replays find their link. */
  causationId: string
  correlationId: string
}

export interface IssuerOptions {
  db: Db
  store: EventStore
  publisher: EventPublisher
  merchants: MerchantDirectory
  mailer?: Mailer
  publicUrl: string
  /** How long one holder may be creating an intent before another may take over. */
  leaseMs: number
  /** How long a request waits for another holder's outcome before answering LINK_IN_PROGRESS. */
  waitMs: number
  log: Log
}

export interface Issuer {
  /** Ask for a link and drive it to its outcome (issued or failed), exactly once per reference. */
  request: (input: LinkRequest) => Promise<LinkState>
  /** Drive a requested link to its outcome (recovery after a crash or an outage). */
  resume: (linkId: string) => Promise<LinkState | undefined>
  load: (linkId: string) => Promise<LinkState | undefined>
  cancel: (merchant: Merchant, linkId: string, reason?: string) => Promise<LinkState>
  /** Resolves once the store has recorded the link's last event (read-your-own-write). */
  settle: (state: LinkState) => Promise<void>
  /** Deletes the leases still waiting to be deleted; call before closing the database. */
  close: () => Promise<void>
}

const PRODUCER = 'link-issuer'
const isConcurrency = (error: unknown): boolean => (error as { code?: string })?.code === MessagingErrorCodes.concurrency
const REFUSALS = new Set(['DOJO_VALIDATION', 'DOJO_UNAUTHORIZED', 'DOJO_REQUEST', 'DOJO_INVALID_INPUT', 'DOJO_CONFLICT', 'DOJO_NOT_FOUND', 'DOJO_CONFIG'])

/** The event as it will read once recorded at `position`: lets a decision go on without a reload. */
function asRecorded (event: NewEvent, position: number, streamVersion: number): RecordedEvent {
  return { ...event, position, streamVersion, recordedAt: new Date().toISOString() }
}

export function createIssuer (options: IssuerOptions): Issuer {
  const { db, store, publisher, merchants, log } = options
  const owner = randomUUID()

  async function load (linkId: string): Promise<LinkState | undefined> {
    return foldLink(await store.readStream(paymentLinkStream(linkId)))
  }

  /** Publish on the link's stream on top of `state`; the new state, or undefined on a lost race. */
  async function append (state: LinkState, events: NewEvent[]): Promise<LinkState | undefined> {
    try {
      const acks = await publisher.publish(events, { expectedLastSubjectSequence: state.position })
      const version = state.events.at(-1)?.streamVersion ?? 0
      return foldLink([...state.events, ...events.map((e, i) => asRecorded(e, acks[i]!.seq, version + i + 1))])
    } catch (error) {
      if (isConcurrency(error)) return undefined
      throw error
    }
  }

  const meta = (state: { correlationId: string, requestedBy: string }): NewEvent['metadata'] =>
    ({ correlationId: state.correlationId, causationId: state.requestedBy, producer: PRODUCER })

  // Leases are taken in one statement for every request that asks within the same event-loop
  // turn: under load that is one round trip for many links instead of one each.
  const leases = new DataLoader<string, boolean>(async (linkIds) => {
    const unique = [...new Set(linkIds)]
    const { rows } = await sql<{ link_id: string }>`
      INSERT INTO li_issue_leases (link_id, owner, expires_at)
      SELECT id, ${owner}, now() + ${`${options.leaseMs} milliseconds`}::interval FROM unnest(${unique}::text[]) AS id
      ON CONFLICT (link_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE li_issue_leases.expires_at < now()
      RETURNING link_id`.execute(db)
    const taken = new Set(rows.map((r) => r.link_id))
    // The same link asked twice in one turn (two of our own requests): only the first holds it.
    return linkIds.map((id) => taken.delete(id))
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: (dispatch) => { setImmediate(dispatch) } })

  async function takeLease (linkId: string): Promise<boolean> {
    return await leases.load(linkId)
  }

  async function releaseLease (linkId: string): Promise<void> {
    await db.deleteFrom('li_issue_leases').where('link_id', '=', linkId).where('owner', '=', owner).execute()
  }

  // A lease on a link whose outcome is published protects nothing any more: whoever takes the
  // link up next reads that outcome and stops. So those leases are deleted in batches, off the
  // request path (one query for many links instead of one per link); until then they only make
  // a late duplicate wait for the outcome, which it would find anyway. A crash leaves such rows
  // behind, as a crash while holding a lease always did.
  const done: string[] = []
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()
  function releaseLater (linkId: string): void {
    done.push(linkId)
    if (done.length >= 500) void flushReleases()
    else timer ??= setTimeout(() => { void flushReleases() }, 200).unref()
  }
  async function flushReleases (): Promise<void> {
    clearTimeout(timer)
    timer = undefined
    const ids = done.splice(0)
    if (ids.length === 0) return await flushing
    flushing = flushing.then(async () => {
      await db.deleteFrom('li_issue_leases').where('owner', '=', owner).where('link_id', 'in', ids).execute()
    }).catch((error: unknown) => { log.warn({ err: error, links: ids.length }, 'leases of finished links not deleted (harmless: those links have their outcome)') })
    await flushing
  }

  async function findAtDojo (client: DojoClient, state: LinkState): Promise<PaymentIntent | undefined> {
    const found = await client.findPaymentIntentsByReference(dojoReferenceFor(state.reference, state.linkId), {
      createdFrom: new Date(new Date(state.createdAt).getTime() - 5 * 60_000)
    })
    return found.sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0]
  }

  type Outcome = { intent: PaymentIntent } | { refused: { reason: string, code: string } }

  /**
   * Create the intent, never twice: when an attempt's outcome is unknown (timeout, 5xx, reset),
   * look it up by its reference before trying again.
   */
  async function createAtDojo (client: DojoClient, state: LinkState, lookFirst: boolean): Promise<Outcome> {
    if (lookFirst) {
      const intent = await findAtDojo(client, state)
      if (intent !== undefined) return { intent }
    }
    const request = {
      amount: state.amount,
      reference: dojoReferenceFor(state.reference, state.linkId),
      ...(state.description === undefined ? {} : { description: state.description }),
      ...(state.customer?.email === undefined && state.customer?.phone === undefined
        ? {}
        : { customer: { ...(state.customer.email === undefined ? {} : { emailAddress: state.customer.email }), ...(state.customer.phone === undefined ? {} : { phoneNumber: state.customer.phone }) } }),
      expireAt: state.expiresAt,
      config: {
        redirectUrl: `${options.publicUrl}/links/${state.linkId}/result`,
        ...(state.description === undefined ? {} : { title: state.description.slice(0, 100) })
      },
      metadata: { ...state.metadata, paylinksLinkId: state.linkId },
      paymentSource: 'payment-links'
    }
    const attempts = 3
    for (let attempt = 1; ; attempt++) {
      try {
        return { intent: await client.createPaymentIntent(request) }
      } catch (error) {
        if (isDojoError(error) && REFUSALS.has(error.code)) {
          return { refused: { reason: `Dojo refused the payment intent: ${error.message}`.slice(0, 2000), code: error.code } }
        }
        log.warn({ err: error, linkId: state.linkId, attempt }, 'Dojo create failed; looking the intent up by reference')
        const intent = await findAtDojo(client, state)
        if (intent !== undefined) return { intent }
        if (attempt >= attempts) throw linkError(LinkErrorCodes.dojoUnavailable, 503, 'Dojo did not answer; the link stays requested and is resumed on retry (same Idempotency-Key) or by the recovery sweep.', { linkId: state.linkId }, error)
        await sleep(100 * 2 ** attempt * (1 + Math.random()))
      }
    }
  }

  function checkoutUrl (client: DojoClient, intent: PaymentIntent): string {
    if (typeof intent.paymentLink === 'string' && /^https?:\/\//.test(intent.paymentLink)) return intent.paymentLink
    const base = client.baseUrl === 'https://api.dojo.tech' ? 'https://pay.dojo.tech' : client.baseUrl
    return `${base}/checkout/${intent.id}`
  }

  async function sendEmail (state: LinkState): Promise<LinkState> {
    if (state.status !== 'issued' || !state.sendEmail || state.emailSentAt !== undefined || options.mailer === undefined) return state
    const to = state.customer?.email
    if (to === undefined || state.url === undefined) return state
    const merchant = await merchants.get(state.merchantId)
    let messageId: string
    try {
      messageId = await options.mailer.sendLink({
        to,
        ...(state.customer?.name === undefined ? {} : { name: state.customer.name }),
        merchantName: merchant?.name ?? 'The merchant',
        url: state.url,
        amount: state.amount,
        reference: state.reference,
        ...(state.description === undefined ? {} : { description: state.description }),
        expiresAt: state.expiresAt
      })
    } catch (error) {
      log.warn({ err: error, linkId: state.linkId }, 'link e-mail not sent; the recovery sweep tries again')
      return state
    }
    for (let current: LinkState | undefined = state; current !== undefined;) {
      if (current.emailSentAt !== undefined) return current
      const sent = registry.create('payment-link.sent', { linkId: current.linkId, channel: 'email', ...(messageId === '' ? {} : { messageId: messageId.slice(0, 300) }) }, { streamId: paymentLinkStream(current.linkId), metadata: meta(current) })
      const next = await append(current, [sent])
      if (next !== undefined) return next
      await sleep(20)
      current = await load(state.linkId)
    }
    return state
  }

  /** Take the link from `requested` to issued or failed; `fresh` when we just requested it. */
  async function drive (initial: LinkState, fresh: boolean): Promise<LinkState> {
    let state = initial
    const deadline = Date.now() + options.waitMs
    let lookFirst = !fresh
    for (let round = 0; ; round++) {
      if (state.status !== 'requested') return await sendEmail(state)
      if (await takeLease(state.linkId)) {
        try {
          // Holding the lease, re-read unless our state is the one we just wrote: another holder
          // may have finished since we loaded.
          if (round > 0 || !fresh) {
            const current = await load(state.linkId)
            if (current !== undefined) state = current
            if (state.status !== 'requested') continue
          }
          const merchant = await merchants.get(state.merchantId)
          if (merchant === undefined) throw linkError(LinkErrorCodes.merchantUnknown, 422, `merchant ${state.merchantId} no longer exists`)
          const client = await merchants.dojo(merchant)
          const outcome = await createAtDojo(client, state, lookFirst)
          lookFirst = true
          const streamId = paymentLinkStream(state.linkId)
          const event = 'intent' in outcome
            ? registry.create('payment-link.issued', {
              linkId: state.linkId,
              merchantId: state.merchantId,
              paymentIntentId: outcome.intent.id,
              url: checkoutUrl(client, outcome.intent),
              expiresAt: typeof outcome.intent.expireAt === 'string' && !Number.isNaN(Date.parse(outcome.intent.expireAt)) ? new Date(outcome.intent.expireAt).toISOString() : state.expiresAt
            }, { streamId, metadata: meta(state) })
            : registry.create('payment-link.issue-failed', { linkId: state.linkId, merchantId: state.merchantId, reason: outcome.refused.reason, code: outcome.refused.code, retryable: false }, { streamId, metadata: meta(state) })
          const next = await append(state, [event])
          if (next !== undefined) {
            state = next
            if (state.status === 'issued') log.info({ linkId: state.linkId, paymentIntentId: state.paymentIntentId }, 'link issued')
            continue
          }
        } finally {
          if (state.status === 'requested') await releaseLease(state.linkId)
          else releaseLater(state.linkId)
        }
      } else if (Date.now() > deadline) {
        throw linkError(LinkErrorCodes.inProgress, 503, 'Another request is issuing this link right now; retry shortly with the same Idempotency-Key.', { linkId: state.linkId })
      }
      await sleep(Math.min(250, 10 * 2 ** Math.min(round, 5)) * (0.5 + Math.random()))
      state = (await load(state.linkId)) ?? state
    }
  }

  function requestedEvent (input: LinkRequest, linkId: string): NewEvent {
    const expiresAt = input.expiresAt ?? new Date(Date.now() + input.merchant.linkExpiryHours * 3_600_000).toISOString()
    const redirectUrl = input.redirectUrl ?? input.merchant.defaultRedirectUrl ?? undefined
    return registry.create('payment-link.requested', {
      linkId,
      merchantId: input.merchant.id,
      reference: input.reference,
      amount: input.amount,
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.customer === undefined ? {} : { customer: input.customer }),
      expiresAt: new Date(expiresAt).toISOString(),
      ...(redirectUrl === undefined ? {} : { redirectUrl }),
      ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
      sendEmail: input.sendEmail,
      source: input.source,
      ...(input.orderId === undefined ? {} : { orderId: input.orderId })
    }, { streamId: paymentLinkStream(linkId), metadata: { correlationId: input.correlationId, causationId: input.causationId, producer: PRODUCER } })
  }

  return {
    load,
    async request (input) {
      const linkId = linkIdFor(input.merchant.id, input.reference)
      // Optimistic: a new reference has no stream, so try expected sequence 0 before reading.
      let recorded: RecordedEvent[] = []
      for (let round = 0; ; round++) {
        const existing = foldLink(recorded)
        if (existing !== undefined) {
          if (existing.requestedBy !== input.causationId) {
            throw linkError(LinkErrorCodes.referenceTaken, 409, `Reference '${input.reference}' is already used by link ${linkId}.`, { linkId, reference: input.reference })
          }
          return await drive(existing, false)
        }
        const event = requestedEvent(input, linkId)
        const position = recorded.at(-1)?.position ?? 0
        try {
          const [ack] = await publisher.publish([event], { expectedLastSubjectSequence: position })
          const state = foldLink([...recorded, asRecorded(event, ack!.seq, recorded.length + 1)])!
          return await drive(state, recorded.length === 0)
        } catch (error) {
          if (!isConcurrency(error)) throw error
        }
        // Someone published first, or the store has not recorded their event yet: reload.
        if (round > 40) throw linkError(LinkErrorCodes.contention, 503, 'The link is being changed by others; retry shortly.', { linkId })
        if (round > 0) await sleep(Math.min(200, 5 * 2 ** round) * (0.5 + Math.random()))
        recorded = await store.readStream(paymentLinkStream(linkId))
      }
    },
    async resume (linkId) {
      const state = await load(linkId)
      if (state === undefined) return undefined
      return await drive(state, false)
    },
    async cancel (merchant, linkId, reason) {
      for (let round = 0; ; round++) {
        const state = await load(linkId)
        if (state === undefined || state.merchantId !== merchant.id) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
        if (state.status === 'canceled') return state
        if (state.status !== 'issued' || state.paymentIntentId === undefined) {
          throw linkError(LinkErrorCodes.notCancelable, 409, `Link ${linkId} is ${state.status}; only an issued, unpaid link can be canceled.`, { linkId, status: state.status })
        }
        const client = await merchants.dojo(merchant)
        try {
          await client.cancelPaymentIntent(state.paymentIntentId)
        } catch (error) {
          if (isDojoError(error, 'DOJO_CONFLICT')) throw linkError(LinkErrorCodes.notCancelable, 409, `Dojo will not cancel link ${linkId}: its payment has moved on (paid or authorised).`, { linkId }, error)
          if (isDojoError(error, 'DOJO_NOT_FOUND')) {
            const intent = await client.getPaymentIntent(state.paymentIntentId, { returnCanceled: true })
            if (intent.status !== 'Canceled') throw error
          } else if (isDojoError(error) && !REFUSALS.has(error.code)) {
            throw linkError(LinkErrorCodes.dojoUnavailable, 503, 'Dojo did not answer; nothing changed, retry the cancel.', { linkId }, error)
          } else throw error
        }
        const event = registry.create('payment-link.canceled', { linkId, ...(reason === undefined ? {} : { reason }) }, { streamId: paymentLinkStream(linkId), metadata: meta(state) })
        const next = await append(state, [event])
        if (next !== undefined) return next
        if (round > 20) throw linkError(LinkErrorCodes.contention, 503, 'The link is being changed by others; retry shortly.', { linkId })
        await sleep(10 * (round + 1))
      }
    },
    async settle (state) {
      await store.waitForPosition(state.position, 10_000)
    },
    close: flushReleases
  }
}
