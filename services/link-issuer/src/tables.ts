import type { Generated, Kysely } from 'kysely'
import type { EventStoreTables } from '@paylinks/event-store'
import type { MerchantTables } from '@paylinks/merchants'

export interface IdempotencyKeysTable {
  merchant_id: string
  key: string
  request_hash: string
  link_id: string
  created_at: Date | undefined
}

export interface IssueLeasesTable {
  link_id: string
  owner: string
  expires_at: Date
  generation: number
  owner_lock: number | null
}

export interface EmailClaimsTable {
  link_id: string
  status: 'sending' | 'accepted'
  message_id: string | null
  claimed_at: Date | undefined
  accepted_at: Date | null | undefined
}

export interface LinkOpensTable {
  link_id: string
  opens: number
  first_opened_at: Date | undefined
  last_opened_at: Date | undefined
  published_opens: number | undefined
  published_at: Date | null | undefined
}

export interface ReminderPoliciesTable {
  merchant_id: string
  enabled: boolean
  first_after_s: number
  every_s: number
  max_reminders: number
  updated_at: Generated<Date>
}

export interface ReminderClaimsTable {
  link_id: string
  reminder: number
  status: 'sending' | 'accepted'
  message_id: string | null
  claimed_at: Generated<Date>
  accepted_at: Date | null
}

export interface ReferencesTable {
  merchant_id: string
  reference: string
  link_id: string
  requested_by: string
  order_id: string | null
  created_at: Date | undefined
}

export interface LinksTable {
  link_id: string
  merchant_id: string
  reference: string
  status: string
  amount_value: number
  currency_code: string
  payment_intent_id: string | null
  url: string | null
  source: string
  order_id: string | null
  /** The customer (cus_…) of the requested event, never their address (migrations/0027). */
  customer_id: string | null
  email_requested: boolean
  email_sent_at: Date | null
  /** The first e-mail's or the last reminder's time (migrations/0024). */
  last_emailed_at: Date | null
  reminders_sent: Generated<number>
  expires_at: Date
  created_at: Date
  updated_at: Date
  last_position: number
}

export interface LinkIssuerTables extends EventStoreTables, MerchantTables {
  li_idempotency_keys: IdempotencyKeysTable
  li_issue_leases: IssueLeasesTable
  li_email_claims: EmailClaimsTable
  li_link_opens: LinkOpensTable
  li_links: LinksTable
  li_references: ReferencesTable
  li_reminder_policies: ReminderPoliciesTable
  li_reminder_claims: ReminderClaimsTable
}

export type Db = Kysely<LinkIssuerTables>

/** The same pool seen with only the merchants' tables (Kysely's types are invariant in the schema). */
export const merchantDb = (db: Db): Kysely<MerchantTables> => db as unknown as Kysely<MerchantTables>
