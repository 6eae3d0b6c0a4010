// The cohort rollups against the scan they replace, on the same recorded events: links paid
// days after their creation, in later batches, refunded after paid, issued after paid; then a rebuild.
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { sql, type Kysely } from 'kysely'
import { paymentLinkStream, type NewEvent } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES, record, type EventStore } from '@paylinks/event-store'
import { onTeardown, roleUrl, type TestContext, until } from '@paylinks/test-kit'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { payments } from '../../src/projections/payments.js'
import { ProjectionRunner } from '../../src/projections/runner.js'
import { TIME_TO_PAY_ALPHA } from '../../src/projections/time-to-pay.js'
import { conversion, conversionByScan, dashboardData, type Range } from '../../src/routes/queries.js'
import type { ProjectorTables } from '../../src/tables.js'
import { registry } from '../helpers.js'

const DAY = 86_400_000
const START = Date.parse('2026-11-01T00:00:00Z')
const MERCHANTS = ['mer_alpha01', 'mer_beta002']
const meta = { correlationId: 'rollups' }

interface Story { created: NewEvent[], later: NewEvent[] }

/** A seeded history: what happens when a link is created, and what happens days later. */
function history (seed: number, links: number): Story {
  const story: Story = { created: [], later: [] }
  const [plans] = fc.sample(fc.noBias(fc.array(fc.record({
    merchant: fc.constantFrom(...MERCHANTS),
    currency: fc.constantFrom('GBP', 'EUR'),
    createdAt: fc.integer({ min: 0, max: 6 * DAY - 1 }),
    issueAfter: fc.integer({ min: 1, max: 120_000 }),
    fate: fc.constantFrom('open', 'open', 'failed', 'paid', 'paid', 'paid', 'paid', 'refunded', 'expired', 'canceled', 'paid-before-issued'),
    sent: fc.boolean(),
    // Opened by the customer: never, once, or counted again later (a later, larger count).
    opens: fc.constantFrom(0, 0, 1, 3),
    // Seconds to days: many are paid on a later day than they were created on.
    payAfter: fc.integer({ min: 0, max: Math.round(1000 * Math.log(5 * DAY)) }).map((x) => Math.round(Math.exp(x / 1000))),
    duplicate: fc.boolean()
  }), { minLength: links, maxLength: links })), { seed, numRuns: 1 })
  plans!.forEach((plan, i) => {
    const linkId = `lnk_rollup${String(i).padStart(8, '0')}`
    const streamId = paymentLinkStream(linkId)
    const at = (ms: number): Date => new Date(START + plan.createdAt + ms)
    const amount = { value: 1000 + i, currencyCode: plan.currency as 'GBP' }
    const pi = `pi_sandbox_${String(i).padStart(22, 'x')}`
    const event = (to: NewEvent[], type: string, data: Record<string, unknown>, ms: number): void => {
      to.push(registry.create(type as 'payment-link.requested', data as never, { streamId, metadata: meta, occurredAt: at(ms) }))
    }
    const change = (to: NewEvent[], from: string, status: string, ms: number, refunded = 0): void =>
      event(to, 'payment-link.status-changed', { linkId, paymentIntentId: pi, from, to: status, dojoStatus: status === 'paid' ? 'Captured' : 'Refunded', amount, capturedAmount: amount.value, refundedAmount: refunded, source: 'webhook', observedAt: at(ms).toISOString() }, ms)
    const issued = (to: NewEvent[]): void => event(to, 'payment-link.issued', { linkId, merchantId: plan.merchant, paymentIntentId: pi, url: `http://127.0.0.1:4010/checkout/${pi}`, expiresAt: at(30 * DAY).toISOString() }, plan.issueAfter)
    event(story.created, 'payment-link.requested', { linkId, merchantId: plan.merchant, reference: `ref-${i}`, amount, expiresAt: at(30 * DAY).toISOString(), sendEmail: plan.sent, source: 'api' }, 0)
    if (plan.fate === 'failed') { event(story.created, 'payment-link.issue-failed', { linkId, merchantId: plan.merchant, reason: 'Dojo refused the amount', retryable: false }, 1); return }
    if (plan.fate === 'paid-before-issued') {
      // The payment is recorded before the issue: its time to pay only exists once both are.
      change(story.created, 'issued', 'paid', plan.issueAfter + plan.payAfter)
      issued(story.later)
      return
    }
    issued(story.created)
    if (plan.sent) event(story.created, 'payment-link.sent', { linkId, channel: 'email' }, plan.issueAfter + 10)
    if (plan.opens > 0) {
      const firstOpenedAt = at(plan.issueAfter + 20).toISOString()
      event(story.created, 'payment-link.opened', { linkId, opens: 1, firstOpenedAt }, plan.issueAfter + 20)
      if (plan.opens > 1) event(story.later, 'payment-link.opened', { linkId, opens: plan.opens, firstOpenedAt }, plan.issueAfter + 90_000)
    }
    const paidAt = plan.issueAfter + plan.payAfter
    if (plan.fate === 'paid' || plan.fate === 'refunded') {
      change(story.later, 'issued', 'paid', paidAt)
      if (plan.duplicate) change(story.later, 'issued', 'paid', paidAt + 5000)
      if (plan.fate === 'refunded') change(story.later, 'paid', 'refunded', paidAt + DAY, amount.value)
    } else if (plan.fate === 'expired') change(story.later, 'issued', 'expired', 3 * DAY)
    else if (plan.fate === 'canceled') event(story.later, 'payment-link.canceled', { linkId, reason: 'changed their mind' }, paidAt)
  })
  // Later facts arrive in time order, interleaved across links.
  story.later.sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt))
  return story
}

async function projected (t: TestContext): Promise<{ store: EventStore, db: Kysely<ProjectorTables>, runner: ProjectionRunner, append: (events: NewEvent[]) => Promise<void>, caughtUp: (generation: number) => Promise<void> }> {
  const { url } = await createMigratedTestDatabase(t)
  const store = await createEventStore({ connectionString: roleUrl(url, DATABASE_ROLES.projector), registry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())
  const recorder = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorder.destroy())
  const runner = new ProjectionRunner({ store, projections: [payments], intervalMs: 50 })
  onTeardown(t, () => runner.stop())
  let position = 0
  const append = async (events: NewEvent[]): Promise<void> => { await record(recorder, events.map((event) => ({ position: ++position, event }))) }
  const caughtUp = async (generation: number): Promise<void> => {
    await until(async () => {
      const s = (await runner.status())[0]
      return s?.active?.generation === generation && s.building === undefined && s.active.position >= position
    })
  }
  return { store, db: store.db as unknown as Kysely<ProjectorTables>, runner, append, caughtUp }
}

const ranges: Range[] = []
for (const merchantId of [undefined, ...MERCHANTS]) {
  for (const currency of [undefined, 'GBP', 'EUR']) {
    ranges.push({ from: '2026-11-01', to: '2026-11-06', merchantId, currency })
    for (let d = 1; d <= 6; d++) ranges.push({ from: `2026-11-0${d}`, to: `2026-11-0${d}`, merchantId, currency })
  }
}
ranges.push({ from: '2026-11-02', to: '2026-11-04' }, { from: '2026-10-01', to: '2026-10-31' }, { from: '2026-11-01', to: '2026-12-31', merchantId: 'mer_nobody01' })

type Answer = Record<string, any>
/** Counts exactly equal; times within the stated precision (ALPHA, plus both answers' 0.1 s rounding). */
function agrees (t: Test, rollup: Answer, scan: Answer, what: string): void {
  t.same({ ...rollup, timeToPaySeconds: undefined }, { ...scan, timeToPaySeconds: undefined }, `${what}: the same counts`)
  for (const q of ['median', 'p90'] as const) {
    const [r, s] = [rollup.timeToPaySeconds[q], scan.timeToPaySeconds[q]]
    if (s === null) t.equal(r, null, `${what}: no ${q} when none paid`)
    else t.ok(r !== null && Math.abs(r - s) <= TIME_TO_PAY_ALPHA * Math.abs(s) + 0.1 + 1e-9, `${what}: ${q} ${r} within 1 % of ${s}`)
  }
}

async function answers (db: Kysely<ProjectorTables>): Promise<Answer[]> {
  return await Promise.all(ranges.map(async (range) => await conversion(db, range)))
}

t.test('the conversion rollups should give what the scan gave, through later batches and after a rebuild', async (t) => {
  const { db, runner, append, caughtUp } = await projected(t)
  const story = history(2026, 400)
  runner.start()
  await append(story.created)
  await caughtUp(1)
  // The later facts in several batches: each applies to links created in earlier ones.
  const third = Math.ceil(story.later.length / 3)
  for (let i = 0; i < story.later.length; i += third) {
    await append(story.later.slice(i, i + third))
    await caughtUp(1)
  }
  const { funnel } = await conversion(db, ranges[0]!) as Answer
  t.ok(funnel.paid > 100 && funnel.paid < funnel.issued && funnel.sent < funnel.issued && funnel.opened > 0 && funnel.opened < funnel.issued, `a real mix: ${JSON.stringify(funnel)}`)
  const paidLater = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.payments WHERE paid_at::date > created_at::date`.execute(db)
  t.ok(paidLater.rows[0]!.n > 20, `${paidLater.rows[0]!.n} links were paid on a later day than created`)
  const refunded = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.payments WHERE status = 'refunded' AND paid_at IS NOT NULL`.execute(db)
  t.ok(refunded.rows[0]!.n > 10, 'refunded links that were paid are there')

  const live = await answers(db)
  for (const [i, range] of ranges.entries()) agrees(t, live[i]!, await conversionByScan(db, range), JSON.stringify(range))

  // The dashboard's data: the same with the rollups as with the scan (92 days reach the history).
  for (const merchantId of [undefined, 'mer_beta002']) {
    const lag = async (): Promise<unknown[]> => []
    const [fromRollups, fromScan] = [await dashboardData(db, { days: 92, merchantId, lag }), await dashboardData(db, { days: 92, merchantId, lag, conversionOf: conversionByScan })]
    agrees(t, fromRollups, fromScan, `dashboard for ${merchantId ?? 'an analyst'}`)
  }

  const dump = async (): Promise<unknown[]> => [
    ...(await sql`SELECT * FROM analytics.conversion_daily ORDER BY merchant_id, day, currency`.execute(db)).rows,
    ...(await sql`SELECT * FROM analytics.time_to_pay WHERE links <> 0 ORDER BY merchant_id, day, currency, bucket`.execute(db)).rows
  ]
  const rollups = await dump()
  await runner.requestRebuild('payments')
  await caughtUp(2)
  t.same(await answers(db), live, 'a rebuild from zero gives the very same answers')
  t.same(await dump(), rollups, 'and the very same rollup rows, batched differently')
  const negative = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.time_to_pay WHERE links < 0`.execute(db)
  t.equal(negative.rows[0]!.n, 0, 'no bucket counts below zero')
})
