// Heavy: a rebuild runs the whole projection against the store, before and after an erasure.
import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { sql, type Kysely } from 'kysely'
import { customerStream, paymentLinkStream, type NewEvent } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES, record, type EventStoreTables } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createCustomerKeys, createSecretBox, eraseCustomer, type MerchantTables } from '@paylinks/merchants'
import { onTeardown, roleUrl } from '@paylinks/test-kit'
import { payments } from '../src/projections/payments.js'
import { ProjectionRunner } from '../src/projections/runner.js'
import { toCsv } from '../src/routes/csv.js'
import { dailyFigures, listPayments, timeline } from '../src/routes/queries.js'
import type { ProjectorTables } from '../src/tables.js'
import { buildHistory } from './fixtures/history.js'
import { registry } from './helpers.js'

const jane = { email: 'jane.erased@example.org', phone: '+44 7700 900777', name: 'Jane Erasedperson' }
const NEEDLES = [jane.email, 'jane.erased', jane.phone, '7700900777', jane.name, 'Erasedperson', '9 Forget Lane']
const meta = { correlationId: 'erasure-test' }
const merchantId = 'mer_alpha01'

/** Two paid links of Jane: one recorded in clear (v1, before sealing), one sealed (v2). */
async function janesLinks (keys: ReturnType<typeof createCustomerKeys>): Promise<NewEvent[]> {
  const at = (minutes: number): Date => new Date(Date.parse('2026-11-02T09:00:00Z') + minutes * 60_000)
  const events: NewEvent[] = []
  for (const [i, linkId] of ['lnk_janeclear000001', 'lnk_janesealed00001'].entries()) {
    const streamId = paymentLinkStream(linkId)
    const amount = { value: 7300 + i, currencyCode: 'GBP' as const }
    const pi = `pi_sandbox_jane${String(i).padStart(18, '0')}`
    const base = { linkId, merchantId, reference: `jane-${i}`, amount, expiresAt: at(60 * 24).toISOString(), sendEmail: true, source: 'api' as const }
    if (i === 0) {
      events.push({ id: randomUUID(), type: 'payment-link.requested', schemaVersion: 1, streamId, occurredAt: at(0).toISOString(), metadata: meta, data: { ...base, customer: jane, metadata: { cart: 'j-1', address: '9 Forget Lane' } } })
    } else {
      const customer = await keys.seal(merchantId, linkId, { ...jane, metadata: { address: '9 Forget Lane' } })
      events.push(registry.create('payment-link.requested', { ...base, customer, metadata: { cart: 'j-2' } }, { streamId, metadata: meta, occurredAt: at(i) }))
    }
    events.push(registry.create('payment-link.issued', { linkId, merchantId, paymentIntentId: pi, url: `http://127.0.0.1:4010/checkout/${pi}`, expiresAt: at(60 * 24).toISOString() }, { streamId, metadata: meta, occurredAt: at(i + 1) }))
    events.push(registry.create('payment-link.status-changed', {
      linkId, paymentIntentId: pi, from: 'issued', to: 'paid', dojoStatus: 'Captured', amount, capturedAmount: amount.value, refundedAmount: 0, source: 'webhook', observedAt: at(i + 5).toISOString()
    }, { streamId, metadata: meta, occurredAt: at(i + 5) }))
  }
  return events
}

const dump = async (db: Kysely<any>, view: string, order: string): Promise<unknown[]> => (await sql.raw(`SELECT * FROM analytics.${view} ORDER BY ${order}`).execute(db)).rows

t.test('a rebuild after an erasure should show the same payment figures and no trace of the customer in any view or CSV export', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const store = await createEventStore({ connectionString: roleUrl(url, DATABASE_ROLES.projector), registry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())
  const recorder = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorder.destroy())
  const issuerDb = createDatabase<MerchantTables>({ connectionString: roleUrl(url, DATABASE_ROLES.linkIssuer), max: 1 })
  onTeardown(t, () => issuerDb.destroy())
  const keys = createCustomerKeys({ db: issuerDb, box: createSecretBox([randomBytes(32).toString('base64')]), cacheMs: 0 })

  const history = buildHistory({ merchants: [merchantId], linksPerMerchant: 20, start: new Date('2026-11-01T00:00:00Z') })
  const janes = await janesLinks(keys)
  await record(recorder, [...history, ...janes.map((event, i) => ({ position: history.length + i + 1, event }))])

  const runner = new ProjectionRunner({ store, projections: [payments], intervalMs: 50 })
  onTeardown(t, () => runner.stop())
  runner.start()
  const caughtUp = async (generation: number): Promise<void> => {
    const head = await store.head()
    for (let i = 0; ; i++) {
      const active = (await runner.status())[0]?.active
      if (active?.generation === generation && active.position >= head) return
      if (i > 800) throw new Error(`the payments projection did not catch up: ${JSON.stringify(active)}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  await caughtUp(1)
  const before = { payments: await dump(store.db, 'payments', 'link_id'), daily: await dump(store.db, 'daily_figures', 'day, merchant_id, currency') }
  t.equal(before.payments.length, 22)

  const erasure = await eraseCustomer(issuerDb, merchantId, { email: jane.email })
  t.equal(erasure?.links, 2, 'both of Jane\'s links, the clear and the sealed one')
  t.equal(erasure?.customerIds.length, 2)
  const erased = erasure!.customerIds.map((customerId): NewEvent => registry.create('customer.erased', { customerId, merchantId, erasedAt: erasure!.erasedAt.toISOString(), links: 2 }, { streamId: customerStream(customerId), metadata: meta }))
  await record(recorder, erased.map((event, i) => ({ position: history.length + janes.length + i + 1, event })))

  t.equal(await runner.requestRebuild('payments'), 2)
  await caughtUp(2)
  t.same(await dump(store.db, 'payments', 'link_id'), before.payments, 'the same payments, statuses, amounts and times')
  t.same(await dump(store.db, 'daily_figures', 'day, merchant_id, currency'), before.daily, 'the same daily figures')
  const paid = (await dump(store.db, 'payments', 'link_id')).filter((r: any) => String(r.link_id).startsWith('lnk_jane')) as Array<{ status: string, captured_amount: string }>
  t.same(paid.map((r) => [r.status, Number(r.captured_amount)]), [['paid', 7300], ['paid', 7301]])

  // Every view, and the CSV exports built from the query API's rows.
  const query = store.db.withTables<Omit<ProjectorTables, keyof EventStoreTables>>()
  const page = await listPayments(query, { limit: 100 })
  const exports = [
    toCsv(page.data as unknown as Array<Record<string, unknown>>),
    toCsv(await dailyFigures(query, { from: '2026-10-01', to: '2026-12-31' })),
    JSON.stringify(await timeline(query, 'lnk_janesealed00001')),
    JSON.stringify(await timeline(query, 'lnk_janeclear000001'))
  ]
  t.ok(exports[0]!.includes('lnk_janesealed00001'), 'Jane\'s links are in the export')
  const views = (await sql<{ name: string }>`SELECT relname AS name FROM pg_class WHERE relnamespace = 'analytics'::regnamespace AND relkind IN ('v', 'r', 'm') ORDER BY 1`.execute(store.db)).rows
  for (const { name } of views) exports.push(JSON.stringify(await dump(store.db, name, '1')))
  for (const text of exports) {
    for (const needle of NEEDLES) t.notOk(text.includes(needle) || (/^\d+$/.test(needle) && text.replace(/\D/g, '').includes(needle)), `no '${needle}'`)
  }
})
