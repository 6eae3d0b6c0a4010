import type { ColumnType, Generated, Kysely } from 'kysely'
import type { EventStoreTables } from '@paylinks/event-store'
import type { MerchantTables } from '@paylinks/merchants'

export interface EndpointsTable {
  endpoint_id: string
  merchant_id: string
  url: string
  description: string
  event_types: string[]
  status: 'enabled' | 'disabled' | 'deleted'
  disabled_reason: string | null
  disabled_detail: string | null
  disabled_at: Date | null
  secret_version: number
  previous_valid_until: Date | null
  position: number
  created_at: Date
  updated_at: Date
}

export interface EndpointSecretsTable {
  endpoint_id: string
  version: number
  sealed: string
  created_at: Generated<Date>
}

export interface EndpointHealthTable {
  endpoint_id: string
  lease_owner: string | null
  lease_until: Date | null
  failing_since: Date | null
  last_success_at: Date | null
  last_failure_at: Date | null
}

export interface LinksTable {
  link_id: string
  merchant_id: string
  reference: string
  order_id: string | null
  amount_value: ColumnType<number, number, number>
  currency: string
  status: string
  payment_intent_id: string | null
  refunded_amount: ColumnType<number, number | undefined, number>
  refund_events: ColumnType<boolean, boolean | undefined, boolean>
  updated_at: Generated<Date>
}

export interface DeliveriesTable {
  delivery_id: Generated<string>
  endpoint_id: string
  merchant_id: string
  message_id: string
  event_type: string
  body: string
  kind: 'event' | 'replay' | 'test'
  position: ColumnType<number | null, number | null | undefined, number | null>
  status: 'pending' | 'delivered' | 'failed' | 'canceled'
  attempts: Generated<number>
  next_attempt_at: Date | null
  last_status_code: number | null
  last_error: string | null
  recorded_at: Date | null
  created_at: Generated<Date>
  delivered_at: Date | null
}

export interface AttemptsTable {
  delivery_id: string
  attempt: number
  endpoint_id: string
  started_at: Date
  latency_ms: number
  status_code: number | null
  error: string | null
  worker: string
}

export interface IdempotencyKeysTable {
  merchant_id: string
  key: string
  request_hash: string
  endpoint_id: string
  created_at: Generated<Date>
}

export interface DispatchTables extends EventStoreTables, MerchantTables {
  wd_endpoints: EndpointsTable
  wd_endpoint_secrets: EndpointSecretsTable
  wd_endpoint_health: EndpointHealthTable
  wd_links: LinksTable
  wd_deliveries: DeliveriesTable
  wd_attempts: AttemptsTable
  wd_idempotency_keys: IdempotencyKeysTable
}

export type Db = Kysely<DispatchTables>
