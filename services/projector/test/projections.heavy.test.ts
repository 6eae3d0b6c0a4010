// Heavy: rebuilds run whole projections against the store and compare tables.
import t from 'tap'
import { sql } from 'kysely'
import { createDatabase, createEventStore, DATABASE_ROLES, record, type EventStore } from '@paylinks/event-store'
import { onTeardown, roleUrl, type TestContext, until } from '@paylinks/test-kit'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { payments } from '../src/projections/payments.js'
import type { Projection } from '../src/projections/projection.js'
import { ProjectionRunner } from '../src/projections/runner.js'
import { buildHistory } from './fixtures/history.js'
import { registry } from './helpers.js'

async function storeWithHistory (t: TestContext, links = 40): Promise<EventStore> {
  const { url } = await createMigratedTestDatabase(t)
  // The runner works as the projector's role, and the history is recorded as the recorder's.
  const store = await createEventStore({ connectionString: roleUrl(url, DATABASE_ROLES.projector), registry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())
  const recorder = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorder.destroy())
  const history = buildHistory({ merchants: ['mer_alpha01', 'mer_beta002'], linksPerMerchant: links, start: new Date('2026-11-01T00:00:00Z') })
  for (let i = 0; i < history.length; i += 100) await record(recorder, history.slice(i, i + 100))
  return store
}

function runner (t: TestContext, store: EventStore, projection: Projection): ProjectionRunner {
  const r = new ProjectionRunner({ store, projections: [projection], intervalMs: 50 })
  onTeardown(t, () => r.stop())
  return r
}

const activeGeneration = async (r: ProjectionRunner): Promise<number | undefined> => (await r.status())[0]?.active?.generation
const dump = async (store: EventStore, table: string, order: string): Promise<unknown[]> => (await sql.raw(`SELECT * FROM ${table} ORDER BY ${order}`).execute(store.db)).rows

t.test('replaying the same history twice should give identical tables, and a rebuild should swap in while the old one serves', async (t) => {
  const store = await storeWithHistory(t)
  const r = runner(t, store, payments)
  r.start()
  await until(async () => await activeGeneration(r) === 1)
  const before = await dump(store, 'analytics.payments', 'link_id')
  t.equal(before.length, 80)
  t.match(await dump(store, 'analytics.daily_figures', 'day, merchant_id, currency'), [{ day: Date }], 'daily figures are there')
  // A generation is built without its read indexes; the swap that makes it active creates them.
  const indexes = async (generation: number): Promise<string[]> => (await sql<{ indexname: string }>`SELECT indexname FROM pg_indexes
    WHERE schemaname = 'projections' AND tablename IN (${`links_g${generation}`}, ${`timeline_g${generation}`}) ORDER BY indexname`.execute(store.db)).rows.map((r) => r.indexname)
  const readIndexes = await indexes(1)
  t.same(readIndexes, ['links_g1_created_at_link_id_idx', 'links_g1_merchant_id_created_at_link_id_idx', 'links_g1_merchant_id_reference_idx', 'links_g1_pkey',
    'links_g1_status_idx', 'timeline_g1_link_id_position_idx', 'timeline_g1_pkey'], 'the active generation has its read indexes')

  const generation = await r.requestRebuild('payments')
  t.equal(generation, 2)
  // While g2 builds, the views still serve g1.
  t.same(await dump(store, 'analytics.payments', 'link_id'), before)
  await until(async () => await activeGeneration(r) === 2)
  t.same((await indexes(2)).map((name) => name.replace('_g2_', '_g1_')), readIndexes, 'the rebuilt generation has them too')
  for (const [view, order] of [['analytics.payments', 'link_id'], ['analytics.payment_timeline', 'position'], ['analytics.daily_figures', 'day, merchant_id, currency']] as const) {
    t.same(await dump(store, view, order), view === 'analytics.payments' ? before : await dump(store, view, order), `${view} is identical after the replay`)
  }
  await until(async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'projections' AND tablename LIKE '%_g1'`.execute(store.db)).rows[0]!.n === 0)
  t.pass('the retired generation\'s tables are dropped')
})

t.test('a new projection version should rebuild from zero on start, and a crash mid-batch should leave no trace', async (t) => {
  const store = await storeWithHistory(t, 30)
  const first = runner(t, store, payments)
  first.start()
  await until(async () => await activeGeneration(first) === 1)
  const expected = await dump(store, 'analytics.payments', 'link_id')
  const expectedDaily = await dump(store, 'analytics.daily_figures', 'day, merchant_id, currency')
  await first.stop()

  let crashes = 0
  const crashing: typeof payments = {
    ...payments,
    version: payments.version + 1,
    async apply (trx, events, tn) {
      await payments.apply(trx, events, tn)
      // After writing part of a batch, die once: the whole batch and its checkpoint roll back.
      if (crashes === 0 && events.length > 10) { crashes++; throw new Error('killed mid-batch') }
    }
  }
  const second = runner(t, store, crashing)
  second.start()
  await until(async () => await activeGeneration(second) === 2)
  t.equal(crashes, 1, 'the crash happened')
  t.same(await dump(store, 'analytics.payments', 'link_id'), expected, 'links are as if it never crashed')
  t.same(await dump(store, 'analytics.daily_figures', 'day, merchant_id, currency'), expectedDaily, 'daily sums counted each event once')
  const statuses = await sql<{ status: string, n: number }>`SELECT status, count(*)::int AS n FROM analytics.payments GROUP BY status ORDER BY status`.execute(store.db)
  t.same(statuses.rows, [
    { status: 'canceled', n: 6 }, { status: 'expired', n: 6 }, { status: 'failed', n: 6 }, { status: 'issued', n: 6 }, { status: 'paid', n: 30 }, { status: 'refunded', n: 6 }
  ])
})

t.test('the read indexes should have the names Postgres gave them when tables were created with them, so older generations get no second copy', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const db = createDatabase({ connectionString: url, max: 1 })
  onTeardown(t, () => db.destroy())
  const namer = (table: string): string => `projections.${table}_g77`
  await sql.raw(payments.createTables(namer)).execute(db)
  // As generations built before indexes were deferred have them: created with the tables, unnamed.
  const statements = payments.createIndexes(namer).split(';').map((s) => s.trim()).filter((s) => s !== '')
  for (const statement of statements) await sql.raw(statement.replace(/IF NOT EXISTS \S+ /, '')).execute(db)
  const names = async (): Promise<string[]> => (await sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE schemaname = 'projections' AND indexname LIKE '%\\_g77\\_%' ORDER BY indexname`.execute(db)).rows.map((r) => r.indexname)
  const before = await names()
  t.same(before.filter((n) => !n.endsWith('_pkey')), statements.map((s) => /IF NOT EXISTS (\S+) /.exec(s)![1]).sort(), 'Postgres chose the names createIndexes gives')
  await sql.raw(payments.createIndexes(namer)).execute(db)
  t.same(await names(), before, 'createIndexes over them adds none')
})
