import { sql, type Transaction } from 'kysely'
import type { JetStreamClient } from '@nats-io/jetstream'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import {
  createEventRegistry, IntegrationSubjects, integrationSubject, is, LinkIssuedV1Schema, linkAmountsAfter, linkStatusAfter, OrderRejected, OrderRejectedV1Schema,
  PaymentLinkCanceled, PaymentLinkCaptured, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkRefunded, PaymentLinkReleased, PaymentLinkRequested, PaymentLinkStatusChanged,
  PaymentStatusChangedV1Schema, type IntegrationKind, type RecordedEventsOf
} from '@paylinks/contracts'
import { createStoreSubscriber, eventTraceContext, propagatesTraces, replayParked, type EventStore, type ParkedEvent, type ReplayResult, type StoreSubscriber } from '@paylinks/event-store'
import { withProducerSpan } from '@paylinks/messaging'
import type { TSchema } from '@sinclair/typebox'
import type { IntegrationLinksTable, ProjectorTables } from './tables.js'

export interface IntegrationPublisherOptions {
  store: EventStore
  js: JetStreamClient
  subjectPrefix: string
  log?: { info: (o: object, m: string) => void, error: (o: object, m: string) => void }
  onPublished?: (kind: IntegrationKind) => void
  onParked?: (parked: ParkedEvent) => void
}

const EVENTS = [
  PaymentLinkRequested, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkCanceled, PaymentLinkStatusChanged,
  PaymentLinkCaptured, PaymentLinkRefunded, PaymentLinkReleased, OrderRejected
] as const
type IntegrationSource = RecordedEventsOf<typeof EVENTS[number]>
type Trx = Transaction<ProjectorTables>
type IntegrationLink = Omit<IntegrationLinksTable, 'updated_at' | 'refunded' | 'captured'> & { refunded: number, captured: number }
const LINK_COLUMNS = ['link_id', 'merchant_id', 'reference', 'order_id', 'amount_value', 'currency', 'status', 'refunded', 'captured'] as const
// Compiled once: each message is checked against its contract before it leaves.
const checks = {
  orderRejected: TypeCompiler.Compile(OrderRejectedV1Schema),
  linkIssued: TypeCompiler.Compile(LinkIssuedV1Schema),
  paymentStatusChanged: TypeCompiler.Compile(PaymentStatusChangedV1Schema)
} as Record<'orderRejected' | 'linkIssued' | 'paymentStatusChanged', TypeCheck<TSchema>>

/** The integration publisher's subscriber (checkpoint and parked events go by this name). */
export const INTEGRATION_SUBSCRIBER = 'projector.integration'
/** What the integration publisher reads, at the versions this code knows. */
export const integrationRegistry = createEventRegistry(EVENTS)

/**
 * Publishes the integration contract from recorded events: `link.issued`, `order.rejected` and
 * `payment.status-changed`, each validated against its schema, with the source event's id as
 * `Nats-Msg-Id` (a batch replayed after a crash is de-duplicated by JetStream, and by id at the
 * subscriber after the window). The checkpoint moves only after JetStream acknowledged.
 */
export function createIntegrationPublisher (options: IntegrationPublisherOptions): StoreSubscriber & { replayParked: () => Promise<ReplayResult> } {
  const traced = propagatesTraces()

  async function publish (kind: IntegrationKind, merchantId: string, check: TypeCheck<TSchema>, message: Record<string, unknown>, source: IntegrationSource): Promise<void> {
    if (!check.Check(message)) {
      const first = check.Errors(message).First()
      throw new Error(`integration ${kind} does not match its contract: ${first?.path ?? ''} ${first?.message ?? ''}`)
    }
    const subject = integrationSubject(options.subjectPrefix, kind, merchantId)
    const msgID = String(message.id)
    // With tracing on, the message continues its source event's trace, and carries it on (traceparent
    // header) to the order systems.
    const parent = traced ? eventTraceContext(source) : undefined
    if (parent === undefined) await options.js.publish(subject, JSON.stringify(message), { msgID })
    else await withProducerSpan(`publish ${options.subjectPrefix}`, subject, msgID, parent, async (headers) => await options.js.publish(subject, JSON.stringify(message), { msgID, headers }))
    options.onPublished?.(kind)
  }

  /**
   * A batch in two statements, whatever its size: one SELECT of the links it touches, the events
   * folded in memory in log order (publishing in turn what order systems hear), then one INSERT
   * of the links it requested and one UPDATE of those it changed, before the checkpoint moves.
   */
  async function apply (trx: Trx, events: IntegrationSource[]): Promise<void> {
    const ids = [...new Set(events.flatMap((e) => is(e, OrderRejected) ? [] : [e.data.linkId]))]
    const stored = ids.length === 0 ? [] : await trx.selectFrom('pr_integration_links').select(LINK_COLUMNS).where('link_id', 'in', ids).execute()
    const links = new Map<string, IntegrationLink>(stored.map((r) => [r.link_id, { ...r, amount_value: Number(r.amount_value), refunded: Number(r.refunded), captured: Number(r.captured) }]))
    const requested = new Set<string>()
    const changed = new Set<string>()
    for (const event of events) {
      const envelope = { id: event.id, position: event.position, occurredAt: event.occurredAt, version: 1 as const }
      if (is(event, OrderRejected)) {
        const d = event.data
        await publish(IntegrationSubjects.orderRejected, d.merchantId ?? 'unknown', checks.orderRejected, {
          ...envelope, type: 'order.rejected', orderId: d.orderId, ...(d.merchantId === undefined ? {} : { merchantId: d.merchantId }), reason: d.reason, problems: d.problems
        }, event)
        continue
      }
      if (is(event, PaymentLinkRequested)) {
        const d = event.data
        if (links.has(d.linkId)) continue
        links.set(d.linkId, { link_id: d.linkId, merchant_id: d.merchantId, reference: d.reference, order_id: d.orderId ?? null, amount_value: d.amount.value, currency: d.amount.currencyCode, status: 'requested', refunded: 0, captured: 0 })
        requested.add(d.linkId)
        continue
      }
      const link = links.get(event.data.linkId)
      if (link === undefined) {
        options.log?.error({ eventId: event.id, linkId: event.data.linkId }, 'event for a link never requested; skipped')
        continue
      }
      const before = link.status
      const after = linkStatusAfter(before, event) ?? before
      const amounts = linkAmountsAfter(before, { capturedAmount: link.captured, refundedAmount: link.refunded }, link.amount_value, event)
      const moneyMoved = amounts.capturedAmount !== link.captured || amounts.refundedAmount !== link.refunded
      link.status = after
      link.refunded = amounts.refundedAmount
      link.captured = amounts.capturedAmount
      changed.add(link.link_id)
      const common = {
        ...envelope,
        linkId: link.link_id,
        merchantId: link.merchant_id,
        ...(link.order_id === null ? {} : { orderId: link.order_id }),
        reference: link.reference,
        amount: { value: link.amount_value, currencyCode: link.currency }
      }
      if (is(event, PaymentLinkIssued)) {
        await publish(IntegrationSubjects.linkIssued, link.merchant_id, checks.linkIssued, {
          ...common, type: 'link.issued', url: event.data.url, paymentIntentId: event.data.paymentIntentId, expiresAt: event.data.expiresAt
        }, event)
      } else if ((after !== before && after !== 'issued') || moneyMoved) {
        // A second partial refund or capture moves no status but money: order systems hear of it too.
        await publish(IntegrationSubjects.paymentStatusChanged, link.merchant_id, checks.paymentStatusChanged, {
          ...common, type: 'payment.status-changed', previousStatus: before, status: after, refundedAmount: link.refunded, capturedAmount: link.captured
        }, event)
      }
    }
    // A link requested in this batch is inserted as it stands at its end; one stored before is updated.
    const inserts = [...requested].map((id) => links.get(id)!)
    if (inserts.length > 0) await trx.insertInto('pr_integration_links').values(inserts).onConflict((oc) => oc.column('link_id').doNothing()).execute()
    const updates = [...changed].filter((id) => !requested.has(id)).map((id) => links.get(id)!)
    if (updates.length > 0) {
      await sql`
        UPDATE pr_integration_links AS l SET status = v.status, refunded = v.refunded, captured = v.captured, updated_at = now()
          FROM jsonb_to_recordset(${JSON.stringify(updates.map((u) => ({ link_id: u.link_id, status: u.status, refunded: u.refunded, captured: u.captured })))}::jsonb)
            AS v(link_id text, status text, refunded bigint, captured bigint)
         WHERE l.link_id = v.link_id`.execute(trx)
    }
  }

  const subscriber = createStoreSubscriber({
    store: options.store,
    name: INTEGRATION_SUBSCRIBER,
    registry: integrationRegistry,
    // Each message is a publish awaited in turn: a smaller batch commits its checkpoint sooner, so a
    // standby taking over (or a restart) has less to publish again and resumes within a second or two.
    batchSize: 100,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.onParked === undefined ? {} : { onParked: options.onParked }),
    handle: apply
  })
  return {
    ...subscriber,
    /** Publish what this publisher parked and can read now (the projector runs it on start). */
    replayParked: async () => await replayParked(options.store.db, INTEGRATION_SUBSCRIBER, {
      registry: integrationRegistry,
      apply
    })
  }
}
