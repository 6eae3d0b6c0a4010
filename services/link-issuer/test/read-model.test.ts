import t from 'tap'
import { sql, type Kysely } from 'kysely'
import { linkStatusAfter, paymentLinkStream, type LinkStatus, type RecordedEvent } from '@paylinks/contracts'
import { createDatabase, type Executor } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown } from '@paylinks/test-kit'
import { registry } from '../src/link.js'
import { applyLinkEvents } from '../src/read-model.js'
import type { LinkIssuerTables } from '../src/tables.js'

const { url } = await createMigratedTestDatabase(t)
let statements = 0
// Counts every statement sent through Kysely (BEGIN and COMMIT go past plugins).
const db = createDatabase({ connectionString: url, max: 2 }).withPlugin({
  transformQuery: (args) => { statements++; return args.node },
  transformResult: async (args) => args.result
})
onTeardown(t, () => db.destroy())
const links = db as unknown as Kysely<LinkIssuerTables>

/**
 * The read model one event at a time, reading the row and applying the contracts' status rule
 * to it: the rows it leaves are the specification the batched version must meet. An event
 * changes its link's row when the rule moves the row's status (with the columns of `issued`),
 * or always for `sent` and `reminded` (whose count only grows); never when the row has seen its position.
 */
async function applyOneStatementPerEvent (executor: Executor, events: RecordedEvent[]): Promise<void> {
  const trx = executor as unknown as Kysely<LinkIssuerTables>
  for (const raw of events) {
    const event = registry.upcast(raw)
    const d = event.data as any
    const at = new Date(event.occurredAt)
    if (event.type === 'payment-link.requested') {
      await trx.insertInto('li_links').values({
        link_id: d.linkId, merchant_id: d.merchantId, reference: d.reference, status: 'requested', amount_value: d.amount.value, currency_code: d.amount.currencyCode, payment_intent_id: null, url: null, source: d.source, order_id: d.orderId ?? null, email_requested: d.sendEmail, email_sent_at: null, expires_at: new Date(d.expiresAt), created_at: at, updated_at: at, last_position: event.position
      }).onConflict((oc) => oc.column('link_id').doNothing()).execute()
      continue
    }
    const row = await trx.selectFrom('li_links').select(['status', 'last_position', 'reminders_sent']).where('link_id', '=', d.linkId).forUpdate().executeTakeFirst()
    if (row === undefined || row.last_position >= event.position) continue
    const status = linkStatusAfter(row.status as LinkStatus, event)!
    const base = trx.updateTable('li_links').where('link_id', '=', d.linkId)
    if (event.type === 'payment-link.sent') {
      await base.set({ email_sent_at: at, last_emailed_at: at, updated_at: at, last_position: event.position }).execute()
    } else if (event.type === 'payment-link.reminded') {
      const grows = d.reminder > row.reminders_sent
      await base.set({ updated_at: at, last_position: event.position, ...(grows ? { reminders_sent: d.reminder, last_emailed_at: at } : {}) }).execute()
    } else if (status !== row.status) {
      await base.set({
        status, updated_at: at, last_position: event.position, ...(event.type === 'payment-link.issued' ? { payment_intent_id: d.paymentIntentId, url: d.url, expires_at: new Date(d.expiresAt) } : {})
      }).execute()
    }
  }
}

type Apply = (trx: Executor, events: RecordedEvent[]) => Promise<void>

/** Apply each batch in a transaction of its own, as the store subscriber does; the statements each cost. */
async function run (apply: Apply, batches: RecordedEvent[][]): Promise<number[]> {
  const costs: number[] = []
  for (const batch of batches) {
    const before = statements
    await db.transaction().execute(async (trx) => { await apply(trx, batch) })
    costs.push(statements - before)
  }
  return costs
}

/** Every row, timestamps as Postgres prints them (microseconds included), in link order. */
async function dump (): Promise<unknown[]> {
  const { rows } = await sql<{ row: unknown }>`SELECT to_jsonb(l) AS row FROM li_links l ORDER BY link_id`.execute(db)
  return rows.map((r) => r.row)
}

async function rowsAfter (apply: Apply, batches: RecordedEvent[][]): Promise<unknown[]> {
  await sql`TRUNCATE li_links`.execute(db)
  await run(apply, batches)
  return await dump()
}

// --- events --------------------------------------------------------------------------------

let position = 0
let serial = 0
const STATUSES: LinkStatus[] = ['requested', 'issued', 'failed', 'authorized', 'paid', 'captured', 'partially_refunded', 'refunded', 'released', 'canceled', 'expired']

function event (type: string, data: Record<string, unknown>, occurredAt: string): RecordedEvent {
  const created = registry.create(type as any, data as any, { streamId: paymentLinkStream(data.linkId as string), metadata: { correlationId: 'read-model-test' } })
  // Recorded times may carry microseconds and offsets: the read model must store them as before.
  return { ...created, occurredAt, position: ++position, streamVersion: 1, recordedAt: new Date().toISOString() }
}

/** Builds one link's events; `at` gives each its occurredAt. */
function linkEvents (linkId: string, at: () => string): Record<string, () => RecordedEvent> {
  const merchantId = 'mer_readmodel'
  const pi = `pi_sandbox_${linkId.slice(4)}`
  let reminders = 0
  return {
    requested: () => event('payment-link.requested', { linkId, merchantId, reference: `ref-${++serial}`, amount: { value: 100 + serial, currencyCode: serial % 2 === 0 ? 'GBP' : 'EUR' }, expiresAt: at(), sendEmail: serial % 3 === 0, source: serial % 2 === 0 ? 'api' : 'order', ...(serial % 2 === 0 ? {} : { orderId: `ord-${serial}` }) }, at()),
    issued: () => event('payment-link.issued', { linkId, merchantId, paymentIntentId: `${pi}_${++serial}`, url: `https://pay.example/${linkId}/${serial}`, expiresAt: at() }, at()),
    'issue-failed': () => event('payment-link.issue-failed', { linkId, merchantId, reason: 'refused', retryable: serial++ % 2 === 0 }, at()),
    sent: () => event('payment-link.sent', { linkId, channel: 'email' }, at()),
    canceled: () => event('payment-link.canceled', { linkId }, at()),
    // A link's reminders are numbered in order (one decision each, on the link's stream).
    reminded: () => event('payment-link.reminded', { linkId, reminder: ++reminders }, at()),
    'status-changed': () => event('payment-link.status-changed', {
      linkId, paymentIntentId: `${pi}_x`, from: 'issued', to: STATUSES[serial++ % STATUSES.length]!, dojoStatus: 'Captured', amount: { value: 100, currencyCode: 'GBP' }, capturedAmount: 100, refundedAmount: 0, source: 'webhook', observedAt: at()
    }, at())
  }
}

/** A seeded generator (mulberry32), so a failing seed can be run again. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Mixed histories of `count` links, interleaved: some never requested, some requested twice. */
function scenario (seed: number, count: number): RecordedEvent[] {
  const rnd = random(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!
  const at = (): string => {
    const ms = Date.UTC(2026, 0, 1) + Math.floor(rnd() * 1e10)
    return pick([
      () => new Date(ms).toISOString(),
      () => new Date(ms).toISOString().replace('Z', `${String(Math.floor(rnd() * 1000)).padStart(3, '0')}Z`),
      () => new Date(ms + 7_200_000).toISOString().replace('Z', '+02:00')
    ])()
  }
  const kinds = ['issued', 'issued', 'issue-failed', 'sent', 'canceled', 'status-changed', 'reminded', 'requested'] as const
  const stories = Array.from({ length: count }, (_, i) => {
    const make = linkEvents(`lnk_seed${seed}_${i}_${Math.floor(rnd() * 1e6).toString(36).padStart(4, '0')}`, at)
    const story = rnd() < 0.85 ? ['requested'] : []
    for (let n = Math.floor(rnd() * 6); n > 0; n--) story.push(pick(kinds))
    return story.map((kind) => make[kind]!)
  })
  const events: RecordedEvent[] = []
  while (stories.some((s) => s.length > 0)) {
    const story = pick(stories.filter((s) => s.length > 0))
    events.push(story.shift()!())
  }
  return events
}

/** Batches as the subscriber would hand them out, then replays that overlap what was applied. */
function batchesOf (events: RecordedEvent[], seed: number): RecordedEvent[][] {
  const rnd = random(seed + 1)
  const batches: RecordedEvent[][] = []
  for (let i = 0; i < events.length;) {
    const size = 1 + Math.floor(rnd() * 15)
    batches.push(events.slice(i, i + size))
    i += size
  }
  const from = Math.floor(rnd() * events.length / 2)
  batches.push(events.slice(from, from + 40), events.slice(0, 25))
  // A replay after a checkpoint moved back: half of it is behind the rows' last_position.
  batches.splice(Math.floor(batches.length / 2), 0, events.slice(Math.max(0, from - 20), from + 20))
  batches.push(events)
  return batches
}

// --- tests ---------------------------------------------------------------------------------

t.test('applyLinkEvents should leave the rows of one statement per event, for mixed and replayed batches', async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const events = scenario(seed, 40)
    const batches = batchesOf(events, seed)
    const expected = await rowsAfter(applyOneStatementPerEvent, batches)
    t.ok(expected.length > 20, `seed ${seed}: ${expected.length} rows to compare`)
    t.same(await rowsAfter(applyLinkEvents, batches), expected, `seed ${seed}: batched`)
    t.same(await rowsAfter(applyLinkEvents, batches.map((b) => b.map((e) => [e])).flat()), expected, `seed ${seed}: one event per call`)
    // The store hands batches out in log order; the result must not depend on it all the same.
    const rnd = random(seed + 2)
    const shuffled = batches.map((b) => [...b].sort(() => rnd() - 0.5))
    t.same(await rowsAfter(applyLinkEvents, shuffled), await rowsAfter(applyOneStatementPerEvent, shuffled), `seed ${seed}: batches out of order`)
  }
})

t.test('applyLinkEvents should cost at most three statements a batch, two for requested-and-issued links', async (t) => {
  await sql`TRUNCATE li_links`.execute(db)
  const at = (): string => new Date().toISOString()
  const made = Array.from({ length: 100 }, (_, i) => linkEvents(`lnk_cost_${i}_${Date.now().toString(36)}`, at))
  const fresh = made.slice(0, 50).flatMap((m) => [m.requested!(), m.issued!()])
  t.same(await run(applyLinkEvents, [fresh]), [2], '50 links requested and issued: one INSERT, one UPDATE')
  const requested = made.slice(50).map((m) => m.requested!())
  const issued = made.slice(50).map((m) => m.issued!())
  t.same(await run(applyLinkEvents, [requested, issued]), [1, 1], 'requested in one batch, issued in the next: one statement each')
  const mixed = [...made.slice(0, 10).flatMap((m) => [m.sent!(), m['status-changed']!(), m.canceled!()]), ...scenario(99, 30)]
  t.ok((await run(applyLinkEvents, [mixed]))[0]! <= 3, 'a mixed batch: at most three')
  t.same(await run(applyLinkEvents, [[...fresh, ...issued]]), [2], 'a replay: the INSERT and one UPDATE that changes nothing')
  t.same(await run(applyLinkEvents, [[]]), [0], 'an empty batch: nothing')
})

t.test('applyLinkEvents should fold a link\'s events in a batch as its rules say', async (t) => {
  await sql`TRUNCATE li_links`.execute(db)
  const at = (): string => '2026-03-01T10:00:00.000Z'
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => linkEvents(`lnk_rules_${x}_${Date.now().toString(36)}`, at))
  const requestedD = d!.requested!()
  await run(applyLinkEvents, [[requestedD]])
  const requestedB = b!.requested!()
  const refusedB = event('payment-link.issue-failed', { linkId: (requestedB.data as any).linkId, merchantId: 'mer_readmodel', reason: 'refused', retryable: false }, at())
  const batch = [c!.issued!(), a!.requested!(), a!.issued!(), requestedB, refusedB, b!.issued!(), d!.sent!(), d!.canceled!()]
  const issuedA = batch[2]!
  await run(applyLinkEvents, [batch, batch])
  const rows = await links.selectFrom('li_links').selectAll().orderBy('link_id').execute()
  t.equal(rows.length, 3, 'an issued event of a link never requested makes no row')
  t.match(rows[0], { status: 'issued', payment_intent_id: (issuedA.data as any).paymentIntentId, url: (issuedA.data as any).url, last_position: issuedA.position })
  t.match(rows[1], { status: 'failed', payment_intent_id: null, url: null, last_position: batch[4]!.position }, 'issued after a (non-retryable) issue-failed does not apply')
  t.match(rows[2], { status: 'canceled', email_sent_at: new Date(at()), last_position: batch[7]!.position, created_at: new Date(requestedD.occurredAt) })
})

t.test('applyLinkEvents should follow the contracts\' rule on late cancels and retryable failures', async (t) => {
  await sql`TRUNCATE li_links`.execute(db)
  const at = (): string => '2026-03-02T10:00:00.000Z'
  const [p, r] = ['p', 'r'].map((x) => linkEvents(`lnk_late_${x}_${Date.now().toString(36)}`, at))
  const requestedP = p!.requested!()
  const linkP = (requestedP.data as any).linkId
  const issuedP = p!.issued!()
  const paid = event('payment-link.status-changed', { linkId: linkP, paymentIntentId: 'pi_sandbox_latecancel01', from: 'issued', to: 'paid', dojoStatus: 'Captured', amount: { value: 100, currencyCode: 'GBP' }, capturedAmount: 100, refundedAmount: 0, source: 'webhook', observedAt: at() }, at())
  const requestedR = r!.requested!()
  const linkR = (requestedR.data as any).linkId
  const retryable = event('payment-link.issue-failed', { linkId: linkR, merchantId: 'mer_readmodel', reason: 'timeout', retryable: true }, at())
  // Split so that the late cancel meets a stored row alone: the single-change SQL path.
  await run(applyLinkEvents, [[requestedP, issuedP, paid, requestedR, retryable], [p!.canceled!()]])
  const rows = await links.selectFrom('li_links').select(['link_id', 'status', 'last_position']).orderBy('link_id').execute()
  t.same(rows.find((row) => row.link_id === linkP), { link_id: linkP, status: 'paid', last_position: paid.position }, 'a cancel after paid is late: no change')
  t.same(rows.find((row) => row.link_id === linkR), { link_id: linkR, status: 'requested', last_position: requestedR.position }, 'a retryable failure leaves the link requested')
})
