import type { Generated, Kysely } from 'kysely'
import type { EventStoreTables } from '@paylinks/event-store'
import type { MerchantTables } from '@paylinks/merchants'

export interface SubscriptionsTable {
  merchant_id: string
  subscription_id: string
  url: string
  secrets_enc: string
  synced_at: Generated<Date>
}

export interface LinksTable {
  payment_intent_id: string
  link_id: string
  merchant_id: string
  status: string
  settled: Generated<boolean>
  expires_at: Date
  changed_at: Date
  next_check_at: Date
  checks: Generated<number>
}

export interface ConfirmationsTable {
  key: string
  payment_intent_id: string
  source: 'webhook' | 'reconciler'
  cause_event_id: string | null
  correlation_id: string
  received_at: Date
  attempts: Generated<number>
  next_attempt_at: Generated<Date>
  last_error: string | null
}

export interface UnmatchedWebhooksTable {
  dojo_event_id: string
  merchant_id: string
  payment_intent_id: string
  event: string
  payment_status: string
  received_at: Date
}

export interface IngestTables {
  wi_subscriptions: SubscriptionsTable
  wi_links: LinksTable
  wi_confirmations: ConfirmationsTable
  wi_unmatched_webhooks: UnmatchedWebhooksTable
}

export type Tables = IngestTables & EventStoreTables & MerchantTables

/** The same pool, typed for the merchants package (Kysely's types are invariant in the tables). */
export const asMerchantDb = (db: Kysely<Tables>): Kysely<MerchantTables> => db as unknown as Kysely<MerchantTables>
