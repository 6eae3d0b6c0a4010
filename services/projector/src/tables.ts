import type { Generated } from 'kysely'
import type { EventStoreTables } from '@paylinks/event-store'
import type { MerchantTables } from '@paylinks/merchants'
import type { LinkStatus } from '@paylinks/contracts'

/**
 * A payment link's current state: `projections.links_g<n>`, served as `analytics.payments`.
 * Timestamps come from events, never now(); bigint columns are read back as numbers.
 */
export interface LinksTable {
  link_id: string
  merchant_id: string
  reference: string
  order_id: string | null
  source: string
  amount_value: number
  currency: 'GBP' | 'EUR'
  status: LinkStatus
  capture_mode: 'Auto' | 'Manual'
  captured_amount: number
  refunded_amount: number
  payment_intent_id: string | null
  url: string | null
  failure_reason: string | null
  created_at: Date
  issued_at: Date | null
  sent_at: Date | null
  opened_at: Date | null
  open_count: number
  authorized_at: Date | null
  paid_at: Date | null
  captured_at: Date | null
  partially_refunded_at: Date | null
  refunded_at: Date | null
  released_at: Date | null
  canceled_at: Date | null
  expired_at: Date | null
  failed_at: Date | null
  expires_at: Date
  updated_at: Date
  last_position: number
}

/** Every recorded step of a link: `projections.timeline_g<n>`, served as `analytics.payment_timeline`. */
export interface TimelineTable {
  position: number
  link_id: string
  type: string
  occurred_at: Date
  status: LinkStatus | null
  summary: string
}

/** Daily figures per merchant and currency: `projections.daily_g<n>`, served as `analytics.daily_figures`. */
export interface DailyTable {
  day: Date
  merchant_id: string
  currency: string
  issued: number
  paid: number
  /** Manual links captured (first capture) that day. */
  captured: number
  canceled: number
  expired: number
  failed: number
  released: number
  /** Links fully refunded that day. */
  refunded: number
  /** Refunds recorded that day (partial and full). */
  refunds: number
  captured_amount: number
  refunded_amount: number
}

/**
 * The funnel of the links created on a day (UTC), per merchant and currency, and summed over
 * merchants (`merchant_id` '*'): `projections.conversion_g<n>`, served as `analytics.conversion_daily`.
 */
export interface ConversionTable {
  day: Date
  merchant_id: string
  currency: string
  requested: number
  issued: number
  sent: number
  opened: number
  /** Links that reached paid (they stay counted when refunded later). */
  paid: number
  /** How long those took from issue to payment: `{ bucket: links }` (`src/projections/time-to-pay.ts`). */
  time_to_pay: Record<string, number>
}

/** `time_to_pay` of `analytics.conversion_daily` one bucket a row: the view `analytics.time_to_pay`. */
export interface TimeToPayTable {
  day: Date
  merchant_id: string
  currency: string
  bucket: number
  links: number
}

/** What the integration publisher keeps of each link (migration 0005). */
export interface IntegrationLinksTable {
  link_id: string
  merchant_id: string
  reference: string
  order_id: string | null
  amount_value: number
  currency: string
  status: LinkStatus
  refunded: Generated<number>
  /** Minor units captured (migration 0020). */
  captured: Generated<number>
  updated_at: Generated<Date>
}

/** The analyst views over the active generation of each projection. */
export interface AnalyticsViews {
  'analytics.payments': LinksTable
  'analytics.payment_timeline': TimelineTable
  'analytics.daily_figures': DailyTable
  'analytics.conversion_daily': ConversionTable
  'analytics.time_to_pay': TimeToPayTable
}

/** Every table the projector reads or writes. Generation tables are named at run time (`TableNamer`). */
export interface ProjectorTables extends EventStoreTables, MerchantTables, AnalyticsViews {
  pr_integration_links: IntegrationLinksTable
}
