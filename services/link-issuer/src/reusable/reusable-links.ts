import { sql } from 'kysely'
import { CommandErrorCodes, handleCommand, type KnownState } from '@paylinks/commands'
import {
  childOutcome, evolveReusableLink, foldReusableLink, is, paymentLinkEvents, ReusableLinkCreated, reusableLinkEvents, ReusableLinkPayerAdmitted,
  ReusableLinkPayerCompleted, ReusableLinkPayerReleased, reusableLinkStream, type LinkStatus, type Money, type NewEvent, type RecordedEvent, type ReusableLinkState
} from '@paylinks/contracts'
import { createStoreSubscriber, type EventStore, type Executor, type StoreSubscriber } from '@paylinks/event-store'
import type { Merchant } from '@paylinks/merchants'
import type { EventPublisher } from '@paylinks/messaging'
import { LinkErrorCodes, linkError } from '../errors.js'
import type { Issuer } from '../issuer.js'
import { registry, type IssuerLinkState } from '../link.js'
import type { MerchantDirectory } from '../dojo.js'
import type { Db } from '../tables.js'
import { childReferenceFor, decideAdmit, decideChange, decideCreate, decideDeactivate, decideSettle, type ReusableLinkRequest } from './decisions.js'

export const REUSABLE_SUBSCRIBER_NAME = 'link-issuer.reusable'

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface ReusableLinksOptions {
  db: Db
  store: EventStore
  publisher: EventPublisher
  issuer: Issuer
  merchants: MerchantDirectory
  /** How long an admitted payer's place is held for them to pay; then their unpaid link is canceled at Dojo. */
  holdMs: number
  /**
   * The subscriber waits this long after a small batch, so the links' events arriving close
   * together share one transaction (its statements otherwise run for every commit of the
   * recorder, for every link). Places are settled that much later. Default 0.
   */
  lingerMs?: number
  log: Log
}

export interface ReusableLinks {
  create: (input: ReusableLinkRequest) => Promise<ReusableLinkState>
  load: (reusableLinkId: string) => Promise<ReusableLinkState | undefined>
  change: (state: ReusableLinkState, change: { amount?: Money, maxPayments?: number | null }, correlationId: string) => Promise<ReusableLinkState>
  deactivate: (state: ReusableLinkState, reason: string | undefined, correlationId: string) => Promise<ReusableLinkState>
  /**
   * A payer asks to pay: admitted by a decision on the reusable link's stream (or refused with
   * LINK_REUSABLE_UNAVAILABLE), then given a payment link of their own, issued at Dojo.
   */
  admit: (state: ReusableLinkState, merchant: Merchant, correlationId: string) => Promise<{ link: IssuerLinkState, holdUntil: string }>
  /** Settle the place of an admitted payer from their link's status (paid or ended unpaid); nothing while it is payable. */
  settle: (child: IssuerLinkState) => Promise<void>
  /** Payers whose hold ended unpaid: their link is canceled at Dojo (or stopped if not issued yet), which frees their place. */
  endHolds: (now?: Date, limit?: number) => Promise<number>
  /** The subscriber that keeps li_reusable_* and settles places from the children's recorded statuses. */
  subscriber: StoreSubscriber
  /** Resolves once the store has recorded the reusable link's last event. */
  recorded: (state: ReusableLinkState) => Promise<void>
}

type Decide = (state: ReusableLinkState | undefined) => NewEvent[]

const known = (state: ReusableLinkState): KnownState<ReusableLinkState | undefined> => ({ state, position: state.position, version: state.version })

/** The payment-link events that can move a child to paid or to an end unpaid. */
const CHILD_STATUS_TYPES = paymentLinkEvents.map((d) => d.type).filter((t) => t !== 'payment-link.requested' && t !== 'payment-link.webhook-received' &&
  t !== 'payment-link.sent' && t !== 'payment-link.opened' && t !== 'payment-link.reminded' && t !== 'payment-link.renewed')

/** Reusable links: create, change, deactivate, admit payers, and settle their places. */
export function createReusableLinks (options: ReusableLinksOptions): ReusableLinks {
  const { db, store, publisher, issuer, merchants, log } = options

  async function load (reusableLinkId: string): Promise<ReusableLinkState | undefined> {
    return foldReusableLink((await store.readStream(reusableLinkStream(reusableLinkId))).map((e) => registry.upcast(e)))
  }

  async function decideOn (reusableLinkId: string, decide: Decide, from?: KnownState<ReusableLinkState | undefined>): Promise<ReusableLinkState | undefined> {
    try {
      const result = await handleCommand({
        store,
        publisher,
        streamId: reusableLinkStream(reusableLinkId),
        initialState: () => undefined,
        evolve: evolveReusableLink,
        decide,
        // Payers racing for the last places all decide on one stream: enough retries for a crowd.
        retry: { retries: 60, minDelayMs: 5, maxDelayMs: 200 },
        ...(from === undefined ? {} : { known: from })
      })
      return result.state
    } catch (error) {
      if ((error as { code?: string }).code === CommandErrorCodes.contended) {
        throw linkError(LinkErrorCodes.contention, 503, 'The payment link is busy with other payers; retry shortly.', { reusableLinkId }, error)
      }
      throw error
    }
  }

  const on = (state: ReusableLinkState, decide: (s: ReusableLinkState) => NewEvent[]): Promise<ReusableLinkState | undefined> =>
    decideOn(state.reusableLinkId, (s) => s === undefined ? [] : decide(s), known(state))

  async function settle (child: IssuerLinkState): Promise<void> {
    if (child.reusableLinkId !== undefined) await settlePlace(child.reusableLinkId, child.linkId, child.status)
  }

  async function settlePlace (reusableLinkId: string, linkId: string, status: LinkStatus | 'never-requested'): Promise<void> {
    const outcome = status === 'never-requested' ? 'released' : childOutcome(status)
    if (outcome === undefined) return
    const before = await load(reusableLinkId)
    if (before === undefined) return
    const after = await decideOn(reusableLinkId, (s) => s === undefined ? [] : decideSettle(s, linkId, outcome, status), known(before))
    await db.updateTable('li_reusable_children').set({ settled: true }).where('link_id', '=', linkId).execute()
    if (after !== undefined && after.position !== before.position) log.info({ reusableLinkId, linkId, outcome, status }, 'reusable link payer settled')
  }

  /**
   * One hold ended: stop the child where it stands, so it cannot be paid late; its end frees the
   * place. A child never requested (its admitting process died first) frees it at once.
   */
  async function endHold (row: { link_id: string, merchant_id: string, reusable_link_id: string }): Promise<void> {
    const linkId = row.link_id
    let child = await issuer.load(linkId)
    if (child === undefined) {
      await settlePlace(row.reusable_link_id, linkId, 'never-requested')
      return
    }
    if (child.status === 'requested') child = await issuer.abandon(linkId, 'The payer\'s hold ended before the link was issued.') ?? child
    if (child.status === 'issued') {
      const merchant = await merchants.get(row.merchant_id)
      if (merchant === undefined) return
      try {
        child = await issuer.cancel(merchant, linkId, 'The payer\'s hold on the reusable link ended.')
      } catch (error) {
        // Paid (or authorised) meanwhile: Dojo refuses the cancel, and the payment settles the place.
        if ((error as { code?: string }).code !== LinkErrorCodes.notCancelable) throw error
        child = await issuer.load(linkId) ?? child
      }
    }
    await settle(child)
  }

  /** li_reusable_* from the reusable links' events; the places of children whose status settled them. */
  async function apply (executor: Executor, events: RecordedEvent[]): Promise<void> {
    const trx = executor as unknown as typeof db
    const moved = new Set<string>()
    for (const event of events) {
      if (is(event, ReusableLinkCreated)) {
        await trx.insertInto('li_reusable_links').values({
          reusable_link_id: event.data.reusableLinkId, merchant_id: event.data.merchantId, reference: event.data.reference, created_at: new Date(event.occurredAt)
        }).onConflict((oc) => oc.column('reusable_link_id').doNothing()).execute()
      } else if (is(event, ReusableLinkPayerAdmitted)) {
        await sql`INSERT INTO li_reusable_children (link_id, reusable_link_id, merchant_id, hold_until)
          SELECT ${event.data.childLinkId}, reusable_link_id, merchant_id, ${new Date(event.data.holdUntil)} FROM li_reusable_links WHERE reusable_link_id = ${event.data.reusableLinkId}
          ON CONFLICT (link_id) DO NOTHING`.execute(trx)
      } else if (is(event, ReusableLinkPayerCompleted) || is(event, ReusableLinkPayerReleased)) {
        await trx.updateTable('li_reusable_children').set({ settled: true }).where('link_id', '=', event.data.childLinkId).execute()
      } else if (event.type.startsWith('payment-link.')) {
        moved.add((event.data as { linkId: string }).linkId)
      }
    }
    if (moved.size === 0) return
    // One array parameter: one statement text whatever the batch's size.
    const children = await trx.selectFrom('li_reusable_children').select('link_id').where('link_id', '=', sql<string>`ANY(${[...moved]}::text[])`).where('settled', '=', false).execute()
    for (const { link_id: linkId } of children) {
      const child = await issuer.load(linkId)
      if (child !== undefined) await settle(child)
    }
  }

  const subscriber = createStoreSubscriber({
    store,
    name: REUSABLE_SUBSCRIBER_NAME,
    types: [...reusableLinkEvents.map((d) => d.type), ...CHILD_STATUS_TYPES],
    handle: apply,
    lingerMs: options.lingerMs ?? 0,
    log
  })

  return {
    load,
    subscriber,
    settle,
    async create (input) {
      // Read the stream first (no `known`): the store, not JetStream's window, says whether the reference is taken.
      return (await decideOn(input.reusableLinkId, (s) => decideCreate(s, input)))!
    },
    async change (state, change, correlationId) {
      return await on(state, (s) => decideChange(s, change, correlationId)) ?? state
    },
    async deactivate (state, reason, correlationId) {
      return await on(state, (s) => decideDeactivate(s, reason, correlationId)) ?? state
    },
    async admit (state, merchant, correlationId) {
      const holdUntil = new Date(Date.now() + options.holdMs)
      // Decided on the stream as the store has it now, not on the state the page was served from:
      // a place freed since is offered, and a racing payer's admission is seen or loses the race.
      const admitted = (await decideOn(state.reusableLinkId, (s) => s === undefined ? [] : decideAdmit(s, holdUntil, correlationId)))!
      const place = admitted.children.at(-1)!
      log.info({ reusableLinkId: state.reusableLinkId, payer: place.payer, linkId: place.linkId }, 'reusable link payer admitted')
      try {
        const link = await issuer.requestChild({
          merchant,
          reference: childReferenceFor(admitted.reference, place.payer),
          amount: admitted.amount,
          ...(admitted.description === undefined ? {} : { description: admitted.description }),
          // Dojo's own expiry a little after the hold: the sweep cancels it at the hold's end,
          // and should the sweep be late, Dojo still ends it.
          expiresAt: new Date(holdUntil.getTime() + Math.max(60_000, options.holdMs)).toISOString(),
          ...(admitted.redirectUrl === undefined ? {} : { redirectUrl: admitted.redirectUrl }),
          sendEmail: false,
          source: 'api',
          reusableLinkId: admitted.reusableLinkId,
          causationId: `reusable:${admitted.reusableLinkId}:${place.payer}`,
          correlationId
        }, place.linkId)
        // The payer's link is read from the store next (its checkout, the partner's GET): recorded first.
        await issuer.settle(link)
        return { link, holdUntil: place.holdUntil }
      } catch (error) {
        // The payer is told to try again; their place is freed once the link is stopped.
        await endHold({ link_id: place.linkId, merchant_id: merchant.id, reusable_link_id: admitted.reusableLinkId }).catch((e: unknown) => { log.warn({ err: e, linkId: place.linkId }, 'a failed payer\'s place is left to the hold sweep') })
        throw error
      }
    },
    async endHolds (now = new Date(), limit = 50) {
      const due = await db.selectFrom('li_reusable_children').select(['link_id', 'merchant_id', 'reusable_link_id'])
        .where('settled', '=', false).where('hold_until', '<=', now).orderBy('hold_until').limit(limit).execute()
      for (const row of due) {
        try {
          await endHold(row)
        } catch (error) {
          log.warn({ err: error, linkId: row.link_id }, 'ending a payer\'s hold failed; next sweep tries again')
        }
      }
      return due.length
    },
    async recorded (state) {
      await store.waitForPosition(state.position, 10_000)
    }
  }
}
