import { sql, type Transaction } from 'kysely'
import {
  evolveWebhookEndpoint, PaymentLinkCanceled, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkRequested, PaymentLinkStatusChanged,
  WebhookEndpointCreated, WebhookEndpointDeleted, WebhookEndpointDisabled, WebhookEndpointEnabled, webhookEndpointEvents, type WebhookEndpointState
} from '@paylinks/contracts'
import { createStoreSubscriber, type EventStore, type ParkedEvent, type StoreSubscriber } from '@paylinks/event-store'
import { evolveView, PAYMENT_LINK_REFUNDED, payloadOf, toPartnerEvent, type LinkView, type WebhookPayload } from './payloads.js'
import type { DispatchTables, EndpointsTable } from './tables.js'

/** The fan-out subscriber's name: its checkpoint, and its advisory lock (one active per database). */
export const FANOUT_SUBSCRIBER = 'webhook-dispatch.fanout'
/** Sent in the fan-out transaction: workers on every replica wake when it commits. */
export const DUE_CHANNEL = 'wd_due'

const TYPES = [
  PaymentLinkRequested.type, PaymentLinkIssued.type, PaymentLinkIssueFailed.type, PaymentLinkCanceled.type, PaymentLinkStatusChanged.type,
  PAYMENT_LINK_REFUNDED, ...webhookEndpointEvents.map((e) => e.type)
]

type Trx = Transaction<DispatchTables>
interface Event { id: string, type: string, data: Record<string, any>, occurredAt: string, position: number, recordedAt: string }

export function rowToEndpoint (row: EndpointsTable): WebhookEndpointState {
  return {
    endpointId: row.endpoint_id,
    merchantId: row.merchant_id,
    url: row.url,
    eventTypes: row.event_types as WebhookEndpointState['eventTypes'],
    description: row.description,
    status: row.status,
    ...(row.disabled_reason === null ? {} : { disabled: { reason: row.disabled_reason as 'failing', ...(row.disabled_detail === null ? {} : { detail: row.disabled_detail }), at: row.disabled_at!.toISOString() } }),
    secretVersion: row.secret_version,
    ...(row.previous_valid_until === null ? {} : { previousValidUntil: row.previous_valid_until.toISOString() }),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  }
}

/**
 * Insert one due delivery per endpoint of the merchant that takes this type, in the caller's
 * transaction (with the checkpoint). A disabled endpoint's row is recorded as canceled, so a
 * replay "since" finds it once the merchant enables the endpoint again. The unique index
 * (endpoint, message id) makes a second fan-out of one event a no-op.
 */
export async function enqueue (trx: Trx, merchantId: string, payload: WebhookPayload, position: number | null, recordedAt: string | null, except?: string): Promise<number> {
  const body = JSON.stringify(payload)
  const result = await sql`
    INSERT INTO wd_deliveries (endpoint_id, merchant_id, message_id, event_type, body, kind, position, status, next_attempt_at, recorded_at, last_error)
    SELECT e.endpoint_id, e.merchant_id, ${payload.id}, ${payload.type}, ${body}, 'event', ${position},
      CASE WHEN e.status = 'enabled' THEN 'pending' ELSE 'canceled' END,
      CASE WHEN e.status = 'enabled' THEN now() END, ${recordedAt}::timestamptz,
      CASE WHEN e.status = 'enabled' THEN NULL ELSE 'endpoint disabled' END
    FROM wd_endpoints e
    WHERE e.merchant_id = ${merchantId} AND e.status IN ('enabled', 'disabled') AND ${payload.type} = ANY (e.event_types)
      AND e.endpoint_id <> ${except ?? ''}
    ON CONFLICT (endpoint_id, message_id) WHERE kind = 'event' DO NOTHING`.execute(trx)
  const n = Number(result.numAffectedRows ?? 0)
  if (n > 0) await sql`SELECT pg_notify(${DUE_CHANNEL}, '')`.execute(trx)
  return n
}

async function applyEndpointEvent (trx: Trx, event: Event): Promise<void> {
  const row = await trx.selectFrom('wd_endpoints').selectAll().where('endpoint_id', '=', event.data.endpointId).forUpdate().executeTakeFirst()
  const before = row === undefined ? undefined : rowToEndpoint(row)
  const after = evolveWebhookEndpoint(before, event)
  if (after === undefined || after === before) return
  const values = {
    endpoint_id: after.endpointId,
    merchant_id: after.merchantId,
    url: after.url,
    description: after.description,
    event_types: after.eventTypes,
    status: after.status,
    disabled_reason: after.disabled?.reason ?? null,
    disabled_detail: after.disabled?.detail ?? null,
    disabled_at: after.disabled === undefined ? null : new Date(after.disabled.at),
    secret_version: after.secretVersion,
    previous_valid_until: after.previousValidUntil === undefined ? null : new Date(after.previousValidUntil),
    position: event.position,
    created_at: new Date(after.createdAt),
    updated_at: new Date(after.updatedAt)
  }
  await trx.insertInto('wd_endpoints').values(values).onConflict((oc) => oc.column('endpoint_id').doUpdateSet(values)).execute()
  if (event.type === WebhookEndpointCreated.type) {
    await trx.insertInto('wd_endpoint_health').values({ endpoint_id: after.endpointId, lease_owner: null, lease_until: null, failing_since: null, last_success_at: null, last_failure_at: null })
      .onConflict((oc) => oc.column('endpoint_id').doNothing()).execute()
  }
  if (event.type === WebhookEndpointDisabled.type || event.type === WebhookEndpointDeleted.type) {
    await trx.updateTable('wd_deliveries').set({ status: 'canceled', next_attempt_at: null, last_error: event.type === WebhookEndpointDeleted.type ? 'endpoint deleted' : 'endpoint disabled' })
      .where('endpoint_id', '=', after.endpointId).where('status', '=', 'pending').execute()
  }
  if (event.type === WebhookEndpointEnabled.type) {
    await trx.updateTable('wd_endpoint_health').set({ failing_since: null }).where('endpoint_id', '=', after.endpointId).execute()
  }
  if (event.type === WebhookEndpointDisabled.type && before?.status === 'enabled') {
    // The merchant hears of it on its other endpoints that asked for webhook_endpoint.disabled.
    const d = event.data
    await enqueue(trx, after.merchantId, payloadOf(event, 'webhook_endpoint.disabled', {
      endpointId: after.endpointId, url: after.url, reason: d.reason, ...(d.detail === undefined ? {} : { detail: d.detail }), ...(d.failingSince === undefined ? {} : { failingSince: d.failingSince })
    }), event.position, event.recordedAt, after.endpointId)
  }
}

async function applyLinkEvent (trx: Trx, event: Event): Promise<void> {
  const row = await trx.selectFrom('wd_links').selectAll().where('link_id', '=', event.data.linkId).executeTakeFirst()
  const before: LinkView | undefined = row === undefined
    ? undefined
    : {
        linkId: row.link_id,
        merchantId: row.merchant_id,
        reference: row.reference,
        orderId: row.order_id ?? undefined,
        amount: { value: Number(row.amount_value), currencyCode: row.currency as 'GBP' },
        status: row.status as LinkView['status'],
        paymentIntentId: row.payment_intent_id ?? undefined,
        refundedAmount: Number(row.refunded_amount),
        refundEvents: row.refund_events
      }
  const after = evolveView(before, event)
  if (after === undefined) return
  if (before === undefined) {
    await trx.insertInto('wd_links').values({
      link_id: after.linkId,
      merchant_id: after.merchantId,
      reference: after.reference,
      order_id: after.orderId ?? null,
      amount_value: after.amount.value,
      currency: after.amount.currencyCode,
      status: after.status,
      payment_intent_id: null
    }).onConflict((oc) => oc.column('link_id').doNothing()).execute()
    return
  }
  await trx.updateTable('wd_links').set({
    status: after.status,
    refund_events: after.refundEvents,
    payment_intent_id: after.paymentIntentId ?? null,
    refunded_amount: after.refundedAmount,
    updated_at: new Date()
  }).where('link_id', '=', after.linkId).execute()
  const partner = toPartnerEvent(event, before, after)
  if (partner !== undefined) await enqueue(trx, partner.merchantId, partner.payload, event.position, event.recordedAt)
}

/**
 * Follows the store from its checkpoint: folds endpoint events into wd_endpoints and link events
 * into wd_links, and in the same transaction as the checkpoint inserts one due delivery per
 * (event, matching endpoint): nothing recorded is missed, nothing is enqueued twice. An
 * endpoint sees exactly the events recorded after its creation (the log's order decides).
 */
export function createFanout (options: { store: EventStore, log?: { info: (o: object, m: string) => void, error: (o: object, m: string) => void }, onParked?: (p: ParkedEvent) => void, lingerMs?: number }): StoreSubscriber {
  return createStoreSubscriber<any, DispatchTables>({
    store: options.store,
    name: FANOUT_SUBSCRIBER,
    types: TYPES,
    standbyPollMs: 500,
    ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.onParked === undefined ? {} : { onParked: options.onParked }),
    handle: async (trx, events) => {
      for (const event of events as unknown as Event[]) {
        if (event.type.startsWith('webhook-endpoint.')) await applyEndpointEvent(trx as unknown as Trx, event)
        else await applyLinkEvent(trx as unknown as Trx, event)
      }
    }
  })
}
