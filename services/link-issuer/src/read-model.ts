import type { Kysely } from 'kysely'
import { paymentLinkEvents, type RecordedEvent } from '@paylinks/contracts'
import { createStoreSubscriber, type EventStore, type Executor, type StoreSubscriber } from '@paylinks/event-store'
import { registry } from './link.js'
import type { LinkIssuerTables } from './tables.js'

export const READ_MODEL_NAME = 'link-issuer.links'

/** Apply link events to li_links, in the subscriber's transaction (with its checkpoint). */
export async function applyLinkEvents (executor: Executor, events: RecordedEvent[]): Promise<void> {
  const trx = executor as unknown as Kysely<LinkIssuerTables>
  for (const raw of events) {
    const event = registry.upcast(raw)
    const d = event.data as any
    const at = new Date(event.occurredAt)
    const base = trx.updateTable('li_links').where('link_id', '=', d.linkId).where('last_position', '<', event.position)
    switch (event.type) {
      case 'payment-link.requested':
        await trx.insertInto('li_links').values({
          link_id: d.linkId,
          merchant_id: d.merchantId,
          reference: d.reference,
          status: 'requested',
          amount_value: d.amount.value,
          currency_code: d.amount.currencyCode,
          payment_intent_id: null,
          url: null,
          source: d.source,
          order_id: d.orderId ?? null,
          email_requested: d.sendEmail,
          email_sent_at: null,
          expires_at: new Date(d.expiresAt),
          created_at: at,
          updated_at: at,
          last_position: event.position
        }).onConflict((oc) => oc.column('link_id').doNothing()).execute()
        break
      case 'payment-link.issued':
        await base.where('status', '=', 'requested').set({ status: 'issued', payment_intent_id: d.paymentIntentId, url: d.url, expires_at: new Date(d.expiresAt), updated_at: at, last_position: event.position }).execute()
        break
      case 'payment-link.issue-failed':
        await base.where('status', '=', 'requested').set({ status: 'failed', updated_at: at, last_position: event.position }).execute()
        break
      case 'payment-link.canceled':
        await base.set({ status: 'canceled', updated_at: at, last_position: event.position }).execute()
        break
      case 'payment-link.status-changed':
        await base.set({ status: d.to, updated_at: at, last_position: event.position }).execute()
        break
      case 'payment-link.sent':
        await base.set({ email_sent_at: at, updated_at: at, last_position: event.position }).execute()
        break
    }
  }
}

/** The subscriber that keeps li_links: one active instance per database, exactly-once effects. */
export function createLinksReadModel (store: EventStore, log: { info: (o: object, m: string) => void, error: (o: object, m: string) => void }): StoreSubscriber {
  return createStoreSubscriber({
    store,
    name: READ_MODEL_NAME,
    types: paymentLinkEvents.map((d) => d.type).filter((t) => t !== 'payment-link.webhook-received'),
    handle: applyLinkEvents,
    log
  })
}
