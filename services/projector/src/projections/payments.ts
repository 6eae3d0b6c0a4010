import { sql, type RawBuilder } from 'kysely'
import {
  is, linkAmountsAfter, linkStatusAfter, paymentLinkEvents, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkOpened, PaymentLinkRefunded, PaymentLinkRequested,
  PaymentLinkSent, type LinkStatus, type RecordedEventsOf
} from '@paylinks/contracts'
import { copyRows } from '@paylinks/event-store'
import type { DailyTable, LinksTable, TimelineTable } from '../tables.js'
import { maskContactDetails } from './personal-data.js'
import type { Projection } from './projection.js'
import { timeToPayBucket } from './time-to-pay.js'

type PaymentsEvent = RecordedEventsOf<typeof paymentLinkEvents[number]>

/** A `links` row in memory: timestamps as read (Date) or set from an event (ISO string). */
type LinkRow = { [K in keyof LinksTable]: LinksTable[K] extends Date ? Date | string : LinksTable[K] extends Date | null ? Date | string | null : LinksTable[K] }
type DailyRow = Omit<DailyTable, 'day'> & { day: string }
type Daily = Map<string, DailyRow>

type StatusTime = 'authorized_at' | 'paid_at' | 'captured_at' | 'partially_refunded_at' | 'refunded_at' | 'released_at' | 'canceled_at' | 'expired_at' | 'failed_at'
const STATUS_TIME: Partial<Record<LinkStatus, StatusTime>> = {
  authorized: 'authorized_at',
  paid: 'paid_at',
  captured: 'captured_at',
  partially_refunded: 'partially_refunded_at',
  refunded: 'refunded_at',
  released: 'released_at',
  canceled: 'canceled_at',
  expired: 'expired_at',
  failed: 'failed_at'
}
/** The statuses counted per day when a link reaches them. */
const COUNTED: ReadonlySet<LinkStatus> = new Set<LinkStatus>(['paid', 'captured', 'canceled', 'expired', 'failed', 'released', 'refunded'])
type Counter = 'issued' | 'paid' | 'captured' | 'canceled' | 'expired' | 'failed' | 'released' | 'refunded' | 'refunds' | 'captured_amount' | 'refunded_amount'
const COUNTERS: readonly Counter[] = ['issued', 'paid', 'captured', 'canceled', 'expired', 'failed', 'released', 'refunded', 'refunds', 'captured_amount', 'refunded_amount']

const money = (value: number, currency: string): string => `${value} ${currency}`

// Rows travel to Postgres as one jsonb array of arrays, a column per index: half the bytes of
// objects (no key names) and one parse each. Typed by the tables, so a column added there and
// not here does not compile.
const LINK_TYPES: Record<keyof LinksTable, string> = {
  link_id: 'text',
  merchant_id: 'text',
  reference: 'text',
  order_id: 'text',
  source: 'text',
  amount_value: 'bigint',
  currency: 'text',
  status: 'text',
  capture_mode: 'text',
  captured_amount: 'bigint',
  refunded_amount: 'bigint',
  payment_intent_id: 'text',
  url: 'text',
  failure_reason: 'text',
  created_at: 'timestamptz',
  issued_at: 'timestamptz',
  sent_at: 'timestamptz',
  opened_at: 'timestamptz',
  open_count: 'integer',
  authorized_at: 'timestamptz',
  paid_at: 'timestamptz',
  captured_at: 'timestamptz',
  partially_refunded_at: 'timestamptz',
  refunded_at: 'timestamptz',
  released_at: 'timestamptz',
  canceled_at: 'timestamptz',
  expired_at: 'timestamptz',
  failed_at: 'timestamptz',
  expires_at: 'timestamptz',
  updated_at: 'timestamptz',
  last_position: 'bigint'
}
const LINK_COLUMNS = Object.keys(LINK_TYPES) as Array<keyof LinksTable>
const TIMELINE_TYPES: Record<keyof TimelineTable, string> = { position: 'bigint', link_id: 'text', type: 'text', occurred_at: 'timestamptz', status: 'text', summary: 'text' }
const TIMELINE_COLUMNS = Object.keys(TIMELINE_TYPES)
/** A timeline row as it travels: TIMELINE_TYPES' columns in their order. */
type TimelineRow = [position: number, linkId: string, type: string, occurredAt: string, status: LinkStatus, summary: string]
/** `INSERT INTO table (columns) SELECT` the columns of `rows` (each an array in the order of `types`). */
const insertRows = (table: string, types: Record<string, string>, rows: unknown[][]): RawBuilder<unknown> =>
  sql`INSERT INTO ${sql.raw(table)} (${sql.raw(Object.keys(types).join(', '))})
    SELECT ${sql.raw(Object.values(types).map((type, i) => `(r->>${i})::${type}`).join(', '))} FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) AS r`

function summary (event: PaymentsEvent): string {
  switch (event.type) {
    case 'payment-link.requested': return `requested ${event.data.amount.value} ${event.data.amount.currencyCode} (${event.data.source})${event.data.renewalOf === undefined ? '' : `, renewing ${event.data.renewalOf}`}`
    case 'payment-link.issued': return `issued as ${event.data.paymentIntentId}`
    case 'payment-link.issue-failed': return `issue failed${event.data.retryable ? ' (will retry)' : ''}: ${maskContactDetails(event.data.reason)}`
    case 'payment-link.sent': return `sent by ${event.data.channel}`
    // The merchant's free-text reason may name the customer: it stays in the event log.
    case 'payment-link.canceled': return 'canceled by the merchant'
    case 'payment-link.webhook-received': return `Dojo webhook ${event.data.event}: ${event.data.paymentStatus}`
    case 'payment-link.status-changed': return `${event.data.from} → ${event.data.to} (Dojo ${event.data.dojoStatus}, ${event.data.source})`
    case 'payment-link.captured': return `captured ${money(event.data.amount.value, event.data.amount.currencyCode)}, ${event.data.capturedAmount} in all (${event.data.source})`
    case 'payment-link.refunded': return `refunded ${money(event.data.amount.value, event.data.amount.currencyCode)}, ${event.data.refundedAmount} in all (${event.data.source})`
    case 'payment-link.released': return `released (${event.data.source})`
    case 'payment-link.opened': return event.data.opens === 1 ? 'opened by the customer' : `opened by the customer (${event.data.opens} opens)`
    case 'payment-link.renewed': return `renewed by the customer as ${event.data.renewedAs}`
    case 'payment-link.reminded': return `reminder ${event.data.reminder} e-mailed`
  }
}

function bump (daily: Daily, link: LinkRow, at: string, field: Counter, by = 1): void {
  const day = at.slice(0, 10)
  const key = `${day}|${link.merchant_id}|${link.currency}`
  let row = daily.get(key)
  if (row === undefined) {
    row = { day, merchant_id: link.merchant_id, currency: link.currency, issued: 0, paid: 0, captured: 0, canceled: 0, expired: 0, failed: 0, released: 0, refunded: 0, refunds: 0, captured_amount: 0, refunded_amount: 0 }
    daily.set(key, row)
  }
  row[field] += by
}

function applyEvent (links: Map<string, LinkRow>, daily: Daily, event: PaymentsEvent): LinkStatus | undefined {
  const linkId = event.data.linkId
  if (is(event, PaymentLinkRequested)) {
    const d = event.data
    if (links.has(linkId)) return links.get(linkId)!.status
    links.set(linkId, {
      link_id: linkId,
      merchant_id: d.merchantId,
      reference: d.reference,
      order_id: d.orderId ?? null,
      source: d.source,
      amount_value: d.amount.value,
      currency: d.amount.currencyCode,
      status: 'requested',
      capture_mode: d.captureMode ?? 'Auto',
      captured_amount: 0,
      refunded_amount: 0,
      payment_intent_id: null,
      url: null,
      failure_reason: null,
      created_at: event.occurredAt,
      issued_at: null,
      sent_at: null,
      opened_at: null,
      open_count: 0,
      authorized_at: null,
      paid_at: null,
      captured_at: null,
      partially_refunded_at: null,
      refunded_at: null,
      released_at: null,
      canceled_at: null,
      expired_at: null,
      failed_at: null,
      expires_at: d.expiresAt,
      updated_at: event.occurredAt,
      last_position: event.position
    })
    return 'requested'
  }
  const link = links.get(linkId)
  if (link === undefined) return undefined
  const before = link.status
  const after = linkStatusAfter(before, event) ?? before
  link.status = after
  link.updated_at = event.occurredAt
  link.last_position = event.position
  if (is(event, PaymentLinkIssued)) {
    if (link.issued_at === null) {
      link.payment_intent_id = event.data.paymentIntentId
      link.url = event.data.url
      link.issued_at = event.occurredAt
      bump(daily, link, event.occurredAt, 'issued')
    }
  } else if (is(event, PaymentLinkIssueFailed)) {
    link.failure_reason = maskContactDetails(event.data.reason)
  } else if (is(event, PaymentLinkSent)) {
    link.sent_at ??= event.occurredAt
  } else if (is(event, PaymentLinkOpened)) {
    link.opened_at ??= event.data.firstOpenedAt
    link.open_count = Math.max(link.open_count, event.data.opens)
  }
  // The amounts by the contracts' rule; the day's figures get what grew.
  const amounts = linkAmountsAfter(before, { capturedAmount: link.captured_amount, refundedAmount: link.refunded_amount }, link.amount_value, event)
  if (amounts.capturedAmount > link.captured_amount) bump(daily, link, event.occurredAt, 'captured_amount', amounts.capturedAmount - link.captured_amount)
  if (amounts.refundedAmount > link.refunded_amount) {
    bump(daily, link, event.occurredAt, 'refunded_amount', amounts.refundedAmount - link.refunded_amount)
    if (is(event, PaymentLinkRefunded)) bump(daily, link, event.occurredAt, 'refunds')
  }
  link.captured_amount = amounts.capturedAmount
  link.refunded_amount = amounts.refundedAmount
  if (after !== before) {
    const column = STATUS_TIME[after]
    if (column !== undefined) link[column] = event.occurredAt
    if (COUNTED.has(after)) bump(daily, link, event.occurredAt, after as Counter)
  }
  return after
}

/** The merchant id of the rollup rows summed over every merchant (ids are `mer_…`). */
export const ALL_MERCHANTS = '*'

type ConversionRow = { day: string, merchant_id: string, currency: string, requested: number, issued: number, sent: number, opened: number, paid: number, time_to_pay: Record<string, number> }
/** What a batch adds to the cohort rollups: per (day of creation, merchant, currency). */
type Rollups = Map<string, ConversionRow>

const isoOf = (t: Date | string): string => typeof t === 'string' ? t : t.toISOString()
const msOf = (t: Date | string): number => typeof t === 'string' ? Date.parse(t) : t.getTime()

/**
 * Add (sign 1) or take away (sign −1) one link's part in the cohort rollups, for its merchant and
 * for all merchants. Its part is a function of its row alone (what the read-time scan counted:
 * requested, issued_at, sent_at, opened_at, paid_at set, and paid_at − issued_at), so a batch takes away
 * the part of the row it loaded and adds the part of the row it writes: a link created days
 * ago counts on its day, and a paid link that goes on to refunded stays paid.
 */
function contribute (rollups: Rollups, link: LinkRow, sign: 1 | -1): void {
  const day = isoOf(link.created_at).slice(0, 10)
  const ttp = link.paid_at !== null && link.issued_at !== null ? timeToPayBucket(msOf(link.paid_at) - msOf(link.issued_at)) : undefined
  for (const merchant of [link.merchant_id, ALL_MERCHANTS]) {
    const key = `${day}|${merchant}|${link.currency}`
    let row = rollups.get(key)
    if (row === undefined) {
      row = { day, merchant_id: merchant, currency: link.currency, requested: 0, issued: 0, sent: 0, opened: 0, paid: 0, time_to_pay: {} }
      rollups.set(key, row)
    }
    row.requested += sign
    if (link.issued_at !== null) row.issued += sign
    if (link.sent_at !== null) row.sent += sign
    if (link.opened_at !== null) row.opened += sign
    if (link.paid_at !== null) row.paid += sign
    if (ttp !== undefined) row.time_to_pay[ttp] = (row.time_to_pay[ttp] ?? 0) + sign
  }
}

/**
 * `payments`: every link's current state (`links`), its timeline (`timeline`) and daily figures
 * per merchant and currency (`daily`). A batch loads the links it touches once, folds the events
 * in memory with the contracts' status rule, and writes each table in one statement. Analysts
 * read it: no customer e-mail, phone or name (v2: free text masked, cancel reasons left out).
 */
export const payments: Projection<typeof paymentLinkEvents[number]> = {
  name: 'payments',
  // v3: captures, refunds and releases (statuses, amounts by linkAmountsAfter, daily counts).
  // v4: cohort rollups (funnel and time-to-pay distribution per day of creation) for conversion.
  // v5: opened (the customer opened the link's short URL): when first, how often, in the funnel.
  version: 5,
  events: paymentLinkEvents,
  tables: ['links', 'timeline', 'daily', 'conversion'],
  views: ['analytics.payments', 'analytics.payment_timeline', 'analytics.daily_figures', 'analytics.conversion_daily', 'analytics.time_to_pay'],
  createTables: (t) => `
    CREATE TABLE ${t('links')} (
      link_id text PRIMARY KEY, merchant_id text NOT NULL, reference text NOT NULL, order_id text, source text NOT NULL,
      amount_value bigint NOT NULL, currency text NOT NULL, status text NOT NULL, capture_mode text NOT NULL,
      captured_amount bigint NOT NULL, refunded_amount bigint NOT NULL, payment_intent_id text, url text, failure_reason text,
      created_at timestamptz NOT NULL, issued_at timestamptz, sent_at timestamptz, opened_at timestamptz, open_count integer NOT NULL DEFAULT 0,
      authorized_at timestamptz, paid_at timestamptz,
      captured_at timestamptz, partially_refunded_at timestamptz, refunded_at timestamptz, released_at timestamptz,
      canceled_at timestamptz, expired_at timestamptz, failed_at timestamptz,
      expires_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, last_position bigint NOT NULL);
    CREATE TABLE ${t('timeline')} (
      position bigint PRIMARY KEY, link_id text NOT NULL, type text NOT NULL, occurred_at timestamptz NOT NULL,
      status text, summary text NOT NULL);
    CREATE TABLE ${t('daily')} (
      day date NOT NULL, merchant_id text NOT NULL, currency text NOT NULL,
      issued integer NOT NULL, paid integer NOT NULL, captured integer NOT NULL, canceled integer NOT NULL, expired integer NOT NULL,
      failed integer NOT NULL, released integer NOT NULL, refunded integer NOT NULL, refunds integer NOT NULL,
      captured_amount bigint NOT NULL, refunded_amount bigint NOT NULL,
      PRIMARY KEY (day, merchant_id, currency));
    CREATE TABLE ${t('conversion')} (
      day date NOT NULL, merchant_id text NOT NULL, currency text NOT NULL,
      requested integer NOT NULL, issued integer NOT NULL, sent integer NOT NULL, opened integer NOT NULL DEFAULT 0, paid integer NOT NULL,
      time_to_pay jsonb NOT NULL,
      PRIMARY KEY (merchant_id, day, currency));`,
  // The names Postgres gave these when createTables made them, so generations built before
  // indexes were deferred already have them (IF NOT EXISTS).
  createIndexes: (t) => {
    const name = (table: string, columns: string): string => `${t(table).replace('projections.', '')}_${columns}_idx`
    return `
    CREATE INDEX IF NOT EXISTS ${name('links', 'merchant_id_created_at_link_id')} ON ${t('links')} (merchant_id, created_at DESC, link_id DESC);
    CREATE INDEX IF NOT EXISTS ${name('links', 'created_at_link_id')} ON ${t('links')} (created_at DESC, link_id DESC);
    CREATE INDEX IF NOT EXISTS ${name('links', 'merchant_id_reference')} ON ${t('links')} (merchant_id, reference);
    CREATE INDEX IF NOT EXISTS ${name('links', 'status')} ON ${t('links')} (status);
    CREATE INDEX IF NOT EXISTS ${name('timeline', 'link_id_position')} ON ${t('timeline')} (link_id, position);`
  },
  createViews: (t) => `
    CREATE VIEW analytics.payments AS SELECT * FROM ${t('links')};
    CREATE VIEW analytics.payment_timeline AS SELECT * FROM ${t('timeline')};
    CREATE VIEW analytics.daily_figures AS SELECT * FROM ${t('daily')};
    CREATE VIEW analytics.conversion_daily AS SELECT * FROM ${t('conversion')};
    CREATE VIEW analytics.time_to_pay AS SELECT day, merchant_id, currency, key::int AS bucket, value::int AS links FROM ${t('conversion')}, jsonb_each_text(time_to_pay);`,
  async apply (trx, events, t) {
    const ids = [...new Set(events.map((e) => e.data.linkId))]
    const existing = await sql<LinksTable>`SELECT * FROM ${sql.raw(t('links'))} WHERE link_id = ANY(${ids})`.execute(trx)
    const loaded = new Set(existing.rows.map((r) => r.link_id))
    const links = new Map<string, LinkRow>(existing.rows.map((r) => [r.link_id, { ...r, amount_value: Number(r.amount_value), captured_amount: Number(r.captured_amount), refunded_amount: Number(r.refunded_amount) }]))
    const rollups: Rollups = new Map()
    for (const link of links.values()) contribute(rollups, link, -1)
    const touched = new Set<string>()
    const daily: Daily = new Map()
    // The fold makes the timeline, a row per event (the bulk of a batch), and COPY sends each
    // piece as it is made: Postgres parses the rows while the rest of the batch is folded.
    function * fold (): Generator<TimelineRow> {
      for (const event of events) {
        const linkId = event.data.linkId
        const status = applyEvent(links, daily, event)
        if (status === undefined) continue // an event for a link never requested
        touched.add(linkId)
        yield [event.position, linkId, event.type, event.occurredAt, status, summary(event)]
      }
    }
    await copyRows(trx, t('timeline'), TIMELINE_COLUMNS, fold())
    // Links the batch created are new rows (this subscriber is the one writer, and it read every
    // link the batch touches): COPY, like the timeline. Links it moved on are updated in place.
    const created: unknown[][] = []
    const moved: unknown[][] = []
    for (const id of touched) (loaded.has(id) ? moved : created).push(LINK_COLUMNS.map((c) => links.get(id)![c]))
    for (const link of links.values()) contribute(rollups, link, 1)
    if (moved.length > 0) {
      await sql`${insertRows(t('links'), LINK_TYPES, moved)}
        ON CONFLICT (link_id) DO UPDATE SET ${sql.raw(LINK_COLUMNS.filter((c) => c !== 'link_id').map((c) => `${c} = EXCLUDED.${c}`).join(', '))}`.execute(trx)
    }
    await copyRows(trx, t('links'), LINK_COLUMNS, created)
    if (daily.size > 0) {
      const sums = COUNTERS
      await sql`INSERT INTO ${sql.raw(t('daily'))} AS d SELECT * FROM json_populate_recordset(NULL::${sql.raw(t('daily'))}, ${JSON.stringify([...daily.values()])}::json)
        ON CONFLICT (day, merchant_id, currency) DO UPDATE SET ${sql.raw(sums.map((c) => `${c} = d.${c} + EXCLUDED.${c}`).join(', '))}`.execute(trx)
    }
    // Only what changed: a link whose part is the same before and after adds nothing. The
    // distribution is one jsonb object per row ({bucket: links}), so a read of 60 days reads 60 rows.
    const conversion = [...rollups.values()].flatMap((r) => {
      for (const [bucket, n] of Object.entries(r.time_to_pay)) if (n === 0) delete r.time_to_pay[bucket]
      return r.requested !== 0 || r.issued !== 0 || r.sent !== 0 || r.opened !== 0 || r.paid !== 0 || Object.keys(r.time_to_pay).length > 0 ? [r] : []
    })
    if (conversion.length > 0) {
      await sql`INSERT INTO ${sql.raw(t('conversion'))} AS c SELECT * FROM json_populate_recordset(NULL::${sql.raw(t('conversion'))}, ${JSON.stringify(conversion)}::json)
        ON CONFLICT (merchant_id, day, currency) DO UPDATE SET requested = c.requested + EXCLUDED.requested, issued = c.issued + EXCLUDED.issued,
          sent = c.sent + EXCLUDED.sent, opened = c.opened + EXCLUDED.opened, paid = c.paid + EXCLUDED.paid,
          time_to_pay = CASE WHEN EXCLUDED.time_to_pay = '{}' THEN c.time_to_pay ELSE (
            SELECT coalesce(jsonb_object_agg(bucket, links), '{}') FROM (
              SELECT bucket, sum(n::int) AS links FROM (SELECT * FROM jsonb_each_text(c.time_to_pay) UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.time_to_pay)) AS e(bucket, n)
              GROUP BY bucket) AS s WHERE links <> 0) END`.execute(trx)
    }
  }
}
