import type { Transaction } from 'kysely'
import type { JetStreamClient } from '@nats-io/jetstream'
import { Value } from '@sinclair/typebox/value'
import {
  createEventRegistry, IntegrationSubjects, integrationSubject, is, LinkIssuedV1Schema, linkAmountsAfter, linkStatusAfter, OrderRejected, OrderRejectedV1Schema,
  PaymentLinkCanceled, PaymentLinkCaptured, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkRefunded, PaymentLinkReleased, PaymentLinkRequested, PaymentLinkStatusChanged,
  PaymentStatusChangedV1Schema, type IntegrationKind, type RecordedEventsOf
} from '@paylinks/contracts'
import { createStoreSubscriber, eventTraceContext, propagatesTraces, replayParked, type EventStore, type ParkedEvent, type ReplayResult, type StoreSubscriber } from '@paylinks/event-store'
import { withProducerSpan } from '@paylinks/messaging'
import type { TSchema } from '@sinclair/typebox'
import type { ProjectorTables } from './tables.js'

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

  async function publish (kind: IntegrationKind, merchantId: string, schema: TSchema, message: Record<string, unknown>, source: IntegrationSource): Promise<void> {
    if (!Value.Check(schema, message)) {
      const first = [...Value.Errors(schema, message)][0]
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

  async function apply (trx: Trx, event: IntegrationSource): Promise<void> {
    const envelope = { id: event.id, position: event.position, occurredAt: event.occurredAt, version: 1 as const }
    if (is(event, OrderRejected)) {
      const d = event.data
      await publish(IntegrationSubjects.orderRejected, d.merchantId ?? 'unknown', OrderRejectedV1Schema, {
        ...envelope, type: 'order.rejected', orderId: d.orderId, ...(d.merchantId === undefined ? {} : { merchantId: d.merchantId }), reason: d.reason, problems: d.problems
      }, event)
      return
    }
    if (is(event, PaymentLinkRequested)) {
      const d = event.data
      await trx.insertInto('pr_integration_links').values({
        link_id: d.linkId, merchant_id: d.merchantId, reference: d.reference, order_id: d.orderId ?? null, amount_value: d.amount.value, currency: d.amount.currencyCode, status: 'requested'
      }).onConflict((oc) => oc.column('link_id').doNothing()).execute()
      return
    }
    const link = await trx.selectFrom('pr_integration_links').selectAll().where('link_id', '=', event.data.linkId).executeTakeFirst()
    if (link === undefined) {
      options.log?.error({ eventId: event.id, linkId: event.data.linkId }, 'event for a link never requested; skipped')
      return
    }
    const before = link.status
    const after = linkStatusAfter(before, event) ?? before
    const amounts = linkAmountsAfter(before, { capturedAmount: Number(link.captured), refundedAmount: Number(link.refunded) }, Number(link.amount_value), event)
    const moneyMoved = amounts.capturedAmount !== Number(link.captured) || amounts.refundedAmount !== Number(link.refunded)
    const refunded = amounts.refundedAmount
    await trx.updateTable('pr_integration_links').set({ status: after, refunded, captured: amounts.capturedAmount, updated_at: new Date() }).where('link_id', '=', link.link_id).execute()
    const common = {
      ...envelope,
      linkId: link.link_id,
      merchantId: link.merchant_id,
      ...(link.order_id === null ? {} : { orderId: link.order_id }),
      reference: link.reference,
      amount: { value: Number(link.amount_value), currencyCode: link.currency }
    }
    if (is(event, PaymentLinkIssued)) {
      await publish(IntegrationSubjects.linkIssued, link.merchant_id, LinkIssuedV1Schema, {
        ...common, type: 'link.issued', url: event.data.url, paymentIntentId: event.data.paymentIntentId, expiresAt: event.data.expiresAt
      }, event)
    } else if ((after !== before && after !== 'issued') || moneyMoved) {
      // A second partial refund or capture moves no status but money: order systems hear of it too.
      await publish(IntegrationSubjects.paymentStatusChanged, link.merchant_id, PaymentStatusChangedV1Schema, {
        ...common, type: 'payment.status-changed', previousStatus: before, status: after, refundedAmount: refunded, capturedAmount: amounts.capturedAmount
      }, event)
    }
  }

  const subscriber = createStoreSubscriber({
    store: options.store,
    name: INTEGRATION_SUBSCRIBER,
    registry: integrationRegistry,
    // Each event is a publish awaited in turn: a smaller batch commits its checkpoint sooner, so a
    // standby taking over (or a restart) has less to publish again and resumes within a second or two.
    batchSize: 100,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.onParked === undefined ? {} : { onParked: options.onParked }),
    handle: async (trx: Trx, events) => {
      for (const event of events) await apply(trx, event)
    }
  })
  return {
    ...subscriber,
    /** Publish what this publisher parked and can read now (the projector runs it on start). */
    replayParked: async () => await replayParked(options.store.db, INTEGRATION_SUBSCRIBER, {
      registry: integrationRegistry,
      apply: async (trx: Trx, events) => { for (const event of events) await apply(trx, event) }
    })
  }
}
