import { sql } from 'kysely'
import type { JetStreamClient } from '@nats-io/jetstream'
import { Value } from '@sinclair/typebox/value'
import {
  IntegrationSubjects, integrationSubject, LinkIssuedV1Schema, linkStatusAfter, OrderRejected, OrderRejectedV1Schema,
  PaymentLinkCanceled, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkRequested, PaymentLinkStatusChanged,
  PaymentStatusChangedV1Schema, type IntegrationKind, type LinkStatus, type RecordedEvent
} from '@paylinks/contracts'
import { createStoreSubscriber, type EventStore, type Executor, type StoreSubscriber } from '@paylinks/event-store'
import type { TSchema } from '@sinclair/typebox'

interface LinkFacts {
  link_id: string
  merchant_id: string
  reference: string
  order_id: string | null
  amount_value: number
  currency: string
  status: LinkStatus
  refunded: number
}

export interface IntegrationPublisherOptions {
  store: EventStore
  js: JetStreamClient
  subjectPrefix: string
  log?: { info: (o: object, m: string) => void, error: (o: object, m: string) => void }
  onPublished?: (kind: IntegrationKind) => void
}

const TYPES = [PaymentLinkRequested, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkCanceled, PaymentLinkStatusChanged, OrderRejected].map((d) => d.type)

/**
 * Publishes the integration contract from recorded events: `link.issued`, `order.rejected` and
 * `payment.status-changed`, each validated against its schema, with the source event's id as
 * `Nats-Msg-Id` (a batch replayed after a crash is de-duplicated by JetStream, and by id at the
 * subscriber after the window). The checkpoint moves only after JetStream acknowledged.
 */
export function createIntegrationPublisher (options: IntegrationPublisherOptions): StoreSubscriber {
  async function publish (kind: IntegrationKind, merchantId: string, schema: TSchema, message: Record<string, unknown>): Promise<void> {
    if (!Value.Check(schema, message)) {
      const first = [...Value.Errors(schema, message)][0]
      throw new Error(`integration ${kind} does not match its contract: ${first?.path ?? ''} ${first?.message ?? ''}`)
    }
    await options.js.publish(integrationSubject(options.subjectPrefix, kind, merchantId), JSON.stringify(message), { msgID: String(message.id) })
    options.onPublished?.(kind)
  }

  async function facts (trx: Executor, linkId: string): Promise<LinkFacts | undefined> {
    const result = await sql<LinkFacts>`SELECT * FROM pr_integration_links WHERE link_id = ${linkId}`.execute(trx)
    return result.rows[0]
  }

  async function apply (trx: Executor, event: RecordedEvent): Promise<void> {
    const envelope = { id: event.id, position: event.position, occurredAt: event.occurredAt, version: 1 as const }
    const data = event.data as Record<string, any>
    if (event.type === OrderRejected.type) {
      await publish(IntegrationSubjects.orderRejected, data.merchantId ?? 'unknown', OrderRejectedV1Schema, {
        ...envelope, type: 'order.rejected', orderId: data.orderId, ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }), reason: data.reason, problems: data.problems
      })
      return
    }
    if (event.type === PaymentLinkRequested.type) {
      await sql`INSERT INTO pr_integration_links (link_id, merchant_id, reference, order_id, amount_value, currency, status)
        VALUES (${data.linkId}, ${data.merchantId}, ${data.reference}, ${data.orderId ?? null}, ${data.amount.value}, ${data.amount.currencyCode}, 'requested')
        ON CONFLICT (link_id) DO NOTHING`.execute(trx)
      return
    }
    const link = await facts(trx, data.linkId)
    if (link === undefined) {
      options.log?.error({ eventId: event.id, linkId: data.linkId }, 'event for a link never requested; skipped')
      return
    }
    const before = link.status
    const after = linkStatusAfter(before, event) ?? before
    const refunded = event.type === PaymentLinkStatusChanged.type ? Number(data.refundedAmount) : link.refunded
    await sql`UPDATE pr_integration_links SET status = ${after}, refunded = ${refunded}, updated_at = now() WHERE link_id = ${link.link_id}`.execute(trx)
    const common = {
      ...envelope,
      linkId: link.link_id,
      merchantId: link.merchant_id,
      ...(link.order_id === null ? {} : { orderId: link.order_id }),
      reference: link.reference,
      amount: { value: Number(link.amount_value), currencyCode: link.currency }
    }
    if (event.type === PaymentLinkIssued.type) {
      await publish(IntegrationSubjects.linkIssued, link.merchant_id, LinkIssuedV1Schema, {
        ...common, type: 'link.issued', url: data.url, paymentIntentId: data.paymentIntentId, expiresAt: data.expiresAt
      })
    } else if (after !== before && after !== 'issued') {
      await publish(IntegrationSubjects.paymentStatusChanged, link.merchant_id, PaymentStatusChangedV1Schema, {
        ...common, type: 'payment.status-changed', previousStatus: before, status: after, refundedAmount: refunded
      })
    }
  }

  return createStoreSubscriber({
    store: options.store,
    name: 'projector.integration',
    types: TYPES,
    ...(options.log === undefined ? {} : { log: options.log }),
    handle: async (trx, events) => {
      for (const event of events) await apply(trx, event)
    }
  })
}
