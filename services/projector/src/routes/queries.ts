import { sql, type Kysely } from 'kysely'
import { decodeCursor, encodeCursor, ServiceError } from '@paylinks/service-kit'
import { ALL_MERCHANTS } from '../projections/payments.js'
import { percentileOfBuckets } from '../projections/time-to-pay.js'
import type { ProjectorTables } from '../tables.js'
import type { Dashboard, Payment } from './schemas.js'

interface Row {
  link_id: string
  merchant_id: string
  reference: string
  order_id: string | null
  status: Payment['status']
  amount_value: number
  currency: 'GBP' | 'EUR'
  capture_mode: 'Auto' | 'Manual'
  captured_amount: number
  refunded_amount: number
  payment_intent_id: string | null
  url: string | null
  created_at: Date
  issued_at: Date | null
  opened_at: Date | null
  open_count: number
  paid_at: Date | null
  updated_at: Date
}

const iso = (d: Date | null): string | null => d === null ? null : d.toISOString()

function toPayment (r: Row): Payment {
  return {
    linkId: r.link_id,
    merchantId: r.merchant_id,
    reference: r.reference,
    orderId: r.order_id,
    status: r.status,
    amount: { value: Number(r.amount_value), currencyCode: r.currency },
    captureMode: r.capture_mode,
    capturedAmount: Number(r.captured_amount),
    refundedAmount: Number(r.refunded_amount),
    paymentIntentId: r.payment_intent_id,
    url: r.url,
    createdAt: r.created_at.toISOString(),
    issuedAt: iso(r.issued_at),
    openedAt: iso(r.opened_at),
    openCount: Number(r.open_count),
    paidAt: iso(r.paid_at),
    updatedAt: r.updated_at.toISOString()
  }
}

export interface PaymentFilter {
  merchantId?: string | undefined
  status?: string | undefined
  reference?: string | undefined
  createdFrom?: string | undefined
  createdTo?: string | undefined
  limit: number
  cursor?: string | undefined
}

/** A page of payments, newest first, from the active `payments` projection. */
export async function listPayments (db: Kysely<ProjectorTables>, filter: PaymentFilter): Promise<{ data: Payment[], nextCursor: string | null }> {
  // The one cursor of the project: the (created_at, link_id) of the last row served.
  const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor, ['date-time', 'string'])
  const where = [sql`true`]
  if (filter.merchantId !== undefined) where.push(sql`merchant_id = ${filter.merchantId}`)
  if (filter.status !== undefined) where.push(sql`status = ${filter.status}`)
  if (filter.reference !== undefined) where.push(sql`reference = ${filter.reference}`)
  if (filter.createdFrom !== undefined) where.push(sql`created_at >= ${filter.createdFrom}`)
  if (filter.createdTo !== undefined) where.push(sql`created_at < ${filter.createdTo}`)
  if (after !== undefined) where.push(sql`(created_at, link_id) < (${after[0]}::timestamptz, ${after[1]})`)
  const rows = await sql<Row>`SELECT * FROM analytics.payments WHERE ${sql.join(where, sql` AND `)}
    ORDER BY created_at DESC, link_id DESC LIMIT ${filter.limit + 1}`.execute(db)
  const page = rows.rows.slice(0, filter.limit)
  return { data: page.map(toPayment), nextCursor: rows.rows.length > filter.limit ? encodeCursor([page[page.length - 1]!.created_at.toISOString(), page[page.length - 1]!.link_id]) : null }
}

export async function getPayment (db: Kysely<ProjectorTables>, linkId: string, merchantId: string | undefined): Promise<Payment | undefined> {
  const rows = await sql<Row>`SELECT * FROM analytics.payments WHERE link_id = ${linkId}
    AND (${merchantId ?? null}::text IS NULL OR merchant_id = ${merchantId ?? null})`.execute(db)
  return rows.rows[0] === undefined ? undefined : toPayment(rows.rows[0])
}

export async function timeline (db: Kysely<ProjectorTables>, linkId: string): Promise<Array<{ position: number, type: string, occurredAt: string, status: string | null, summary: string }>> {
  const rows = await sql<{ position: number, type: string, occurred_at: Date, status: string | null, summary: string }>`
    SELECT position, type, occurred_at, status, summary FROM analytics.payment_timeline WHERE link_id = ${linkId} ORDER BY position`.execute(db)
  return rows.rows.map((r) => ({ position: Number(r.position), type: r.type, occurredAt: r.occurred_at.toISOString(), status: r.status, summary: r.summary }))
}

export interface Range { from: string, to: string, merchantId?: string | undefined, currency?: string | undefined }

function checkRange (range: Range): void {
  if (range.from > range.to) throw new ServiceError('QUERY_BAD_RANGE', 400, `from (${range.from}) is after to (${range.to}).`)
}

/** Daily figures per day and currency (summed over merchants unless one is asked), `to` inclusive. */
export async function dailyFigures (db: Kysely<ProjectorTables>, range: Range): Promise<Array<Record<string, unknown>>> {
  checkRange(range)
  const rows = await sql<Record<string, any>>`
    SELECT to_char(day, 'YYYY-MM-DD') AS day, ${range.merchantId === undefined ? sql`'*'` : sql`merchant_id`} AS merchant_id, currency,
      sum(issued)::int AS issued, sum(paid)::int AS paid, sum(captured)::int AS captured, sum(canceled)::int AS canceled, sum(expired)::int AS expired,
      sum(failed)::int AS failed, sum(released)::int AS released, sum(refunded)::int AS refunded, sum(refunds)::int AS refunds,
      sum(captured_amount)::bigint AS captured_amount, sum(refunded_amount)::bigint AS refunded_amount
    FROM analytics.daily_figures
    WHERE day BETWEEN ${range.from}::date AND ${range.to}::date
      AND (${range.merchantId ?? null}::text IS NULL OR merchant_id = ${range.merchantId ?? null})
      AND (${range.currency ?? null}::text IS NULL OR currency = ${range.currency ?? null})
    GROUP BY 1, 2, 3 ORDER BY 1, 3`.execute(db)
  return rows.rows.map((r) => ({
    day: r.day,
    merchantId: r.merchant_id,
    currency: r.currency,
    issued: r.issued,
    paid: r.paid,
    captured: r.captured,
    canceled: r.canceled,
    expired: r.expired,
    failed: r.failed,
    released: r.released,
    refunded: r.refunded,
    refunds: r.refunds,
    capturedAmount: Number(r.captured_amount),
    refundedAmount: Number(r.refunded_amount)
  }))
}

const round = (x: unknown): number | null => x === null ? null : Math.round(Number(x) * 10) / 10

function conversionAnswer (range: Range, r: { requested: number, issued: number, sent: number, opened: number, paid: number }, median: number | null, p90: number | null): Record<string, unknown> {
  return {
    from: range.from,
    to: range.to,
    issued: r.issued,
    paid: r.paid,
    conversionRate: r.issued === 0 ? null : Math.round(10_000 * r.paid / r.issued) / 10_000,
    timeToPaySeconds: { median: round(median), p90: round(p90) },
    funnel: { requested: r.requested, issued: r.issued, sent: r.sent, opened: r.opened, paid: r.paid }
  }
}

/**
 * Conversion of links created in the range (UTC days, `to` inclusive): share paid, time from
 * issue to payment (median, p90), funnel. Read from the cohort rollups the `payments`
 * projection keeps, so it costs the same at any number of links: counts are exact, the times
 * are within 1 % (`TIME_TO_PAY_ALPHA`) of `percentile_cont` over the links, before rounding.
 */
export async function conversion (db: Kysely<ProjectorTables>, range: Range): Promise<Record<string, unknown>> {
  checkRange(range)
  const merchant = range.merchantId ?? ALL_MERCHANTS
  const rows = await sql<{ requested: number, issued: number, sent: number, opened: number, paid: number, time_to_pay: Record<string, number> }>`
    SELECT requested, issued, sent, opened, paid, time_to_pay FROM analytics.conversion_daily
    WHERE merchant_id = ${merchant} AND day BETWEEN ${range.from}::date AND ${range.to}::date
      AND (${range.currency ?? null}::text IS NULL OR currency = ${range.currency ?? null})`.execute(db)
  const counts = { requested: 0, issued: 0, sent: 0, opened: 0, paid: 0 }
  const links = new Map<number, number>()
  for (const r of rows.rows) {
    counts.requested += r.requested
    counts.issued += r.issued
    counts.sent += r.sent
    counts.opened += r.opened
    counts.paid += r.paid
    for (const [bucket, n] of Object.entries(r.time_to_pay)) links.set(Number(bucket), (links.get(Number(bucket)) ?? 0) + n)
  }
  const distribution = [...links]
  const seconds = (q: number): number | null => { const ms = percentileOfBuckets(distribution, q); return ms === null ? null : ms / 1000 }
  return conversionAnswer(range, counts, seconds(0.5), seconds(0.9))
}

/**
 * `conversion` as it was computed before the rollups: a scan of the links created in the
 * range with exact percentiles. No route calls it; tests and `pnpm bench:projections` hold the
 * rollups to it.
 */
export async function conversionByScan (db: Kysely<ProjectorTables>, range: Range): Promise<Record<string, unknown>> {
  checkRange(range)
  const result = await sql<Record<string, any>>`
    WITH links AS (
      SELECT * FROM analytics.payments
      WHERE created_at >= ${range.from}::date AND created_at < ${range.to}::date + 1
        AND (${range.merchantId ?? null}::text IS NULL OR merchant_id = ${range.merchantId ?? null})
        AND (${range.currency ?? null}::text IS NULL OR currency = ${range.currency ?? null})
    )
    SELECT count(*)::int AS requested,
      count(issued_at)::int AS issued,
      count(sent_at)::int AS sent,
      count(opened_at)::int AS opened,
      count(paid_at)::int AS paid,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM paid_at - issued_at)) FILTER (WHERE paid_at IS NOT NULL) AS median,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM paid_at - issued_at)) FILTER (WHERE paid_at IS NOT NULL) AS p90
    FROM links`.execute(db)
  const r = result.rows[0]!
  return conversionAnswer(range, r as never, r.median, r.p90)
}

/** Issued and paid per day over the last `days` days (UTC, today included), zero-filled. */
export async function dailySeries (db: Kysely<ProjectorTables>, days: number, merchantId: string | undefined): Promise<Array<{ day: string, issued: number, paid: number }>> {
  const rows = await sql<{ day: string, issued: number, paid: number }>`
    SELECT to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(sum(f.issued), 0)::int AS issued, coalesce(sum(f.paid), 0)::int AS paid
    FROM generate_series((now() AT TIME ZONE 'UTC')::date - ${days - 1}::int, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d(day)
    LEFT JOIN analytics.daily_figures f ON f.day = d.day::date AND (${merchantId ?? null}::text IS NULL OR f.merchant_id = ${merchantId ?? null})
    GROUP BY d.day ORDER BY d.day`.execute(db)
  return rows.rows
}

/** Amounts captured per currency over the last `days` days. */
export async function capturedTotals (db: Kysely<ProjectorTables>, days: number, merchantId: string | undefined, column: 'captured_amount' | 'refunded_amount' = 'captured_amount'): Promise<Array<{ currency: string, amount: number }>> {
  const rows = await sql<{ currency: string, amount: number }>`
    SELECT currency, sum(${sql.ref(column)})::bigint AS amount FROM analytics.daily_figures
    WHERE day > (now() AT TIME ZONE 'UTC')::date - ${days}::int AND (${merchantId ?? null}::text IS NULL OR merchant_id = ${merchantId ?? null})
    GROUP BY currency HAVING sum(${sql.ref(column)}) > 0 ORDER BY currency`.execute(db)
  return rows.rows.map((r) => ({ currency: r.currency, amount: Number(r.amount) }))
}

/**
 * What `/v1/dashboard` serves for the last `days` days, every figure from rollups (the latest
 * links from the newest-first index). `conversionOf` is for the bench's baseline only.
 */
export async function dashboardData (db: Kysely<ProjectorTables>, options: { days: number, merchantId: string | undefined, lag: () => Promise<unknown[]>, conversionOf?: typeof conversion }): Promise<Dashboard> {
  const { days, merchantId } = options
  const today = new Date()
  const from = new Date(today.getTime() - (days - 1) * 86_400_000).toISOString().slice(0, 10)
  const range = { from, to: today.toISOString().slice(0, 10), merchantId }
  const [daily, captured, refunded, funnel, latest, lag] = await Promise.all([
    dailySeries(db, days, merchantId), capturedTotals(db, days, merchantId), capturedTotals(db, days, merchantId, 'refunded_amount'),
    (options.conversionOf ?? conversion)(db, range), listPayments(db, { merchantId, limit: 10 }), options.lag()
  ])
  return {
    days,
    totals: { issued: funnel.issued as number, paid: funnel.paid as number, conversionRate: funnel.conversionRate as number | null, captured, refunded },
    daily,
    funnel: funnel.funnel as Dashboard['funnel'],
    timeToPaySeconds: funnel.timeToPaySeconds as Dashboard['timeToPaySeconds'],
    latest: latest.data,
    lag: lag as Dashboard['lag']
  }
}
