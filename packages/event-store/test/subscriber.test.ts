import t from 'tap'
import { sql } from 'kysely'
import { credit, onTeardown, type TestContext, testRegistry, until } from '@paylinks/test-kit'
import { createEventStore, createStoreSubscriber, readCheckpoint, record, type EventStore, type StoreSubscriberOptions } from '../src/index.js'
import { createStore } from './helpers.js'

function subscriber (t: TestContext, options: StoreSubscriberOptions) {
  const s = createStoreSubscriber({ standbyPollMs: 30, retryDelayMs: 20, ...options })
  onTeardown(t, () => s.stop())
  s.start()
  return s
}

async function tally (store: EventStore): Promise<Array<{ position: number, n: number }>> {
  const rows = await sql<{ position: number, n: number }>`SELECT position, n FROM applied ORDER BY position`.execute(store.db)
  return rows.rows
}

t.test('a store subscriber should apply every event exactly once, even when a batch fails halfway', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE applied (position bigint PRIMARY KEY, n integer NOT NULL DEFAULT 1)`.execute(store.db)
  await record(store.db, Array.from({ length: 30 }, (_, i) => ({ position: i + 1, event: credit(`ledger.x${i % 3}`) })))
  let failOnce = true
  const s = subscriber(t, {
    store,
    name: 'tally',
    batchSize: 7,
    handle: async (trx, events) => {
      for (const e of events) {
        await sql`INSERT INTO applied (position) VALUES (${e.position}) ON CONFLICT (position) DO UPDATE SET n = applied.n + 1`.execute(trx)
        if (e.position === 17 && failOnce) { failOnce = false; throw new Error('crash in the middle of a batch') }
      }
    }
  })
  await record(store.db, [{ position: 40, event: credit('ledger.late') }])
  await until(async () => (await readCheckpoint(store.db, 'tally')) === 40)
  const rows = await tally(store)
  t.same(rows.map((r) => r.position), [...Array.from({ length: 30 }, (_, i) => i + 1), 40])
  t.ok(rows.every((r) => r.n === 1), 'the failed batch left no trace and was applied once on retry')
  t.same(s.status(), { active: true, position: 40, parked: 0 })
})

t.test('only one subscriber of a name should be active; the standby should take over from the checkpoint', async (t) => {
  const store = await createStore(t)
  const other = await createEventStore({ connectionString: store.url, registry: testRegistry })
  onTeardown(t, () => other.close())
  await sql`CREATE TABLE applied (position bigint PRIMARY KEY, n integer NOT NULL DEFAULT 1)`.execute(store.db)
  const handle: StoreSubscriberOptions['handle'] = async (trx, events) => {
    for (const e of events) await sql`INSERT INTO applied (position) VALUES (${e.position}) ON CONFLICT (position) DO UPDATE SET n = applied.n + 1`.execute(trx)
  }
  const first = subscriber(t, { store, name: 'pair', handle })
  const second = subscriber(t, { store: other, name: 'pair', handle, types: ['ledger.credited'] })
  await record(store.db, Array.from({ length: 10 }, (_, i) => ({ position: i + 1, event: credit('ledger.p') })))
  await until(async () => (await readCheckpoint(store.db, 'pair')) === 10)
  t.equal([first.status().active, second.status().active].filter(Boolean).length, 1, 'one active')
  const [active, standby] = first.status().active ? [first, second] : [second, first]
  await active.stop()
  await record(store.db, Array.from({ length: 10 }, (_, i) => ({ position: i + 11, event: credit('ledger.p') })))
  await until(async () => (await readCheckpoint(store.db, 'pair')) === 20)
  t.equal(standby.status().active, true)
  t.ok((await tally(store)).every((r) => r.n === 1), 'each event applied once across the hand-over')
  t.equal((await tally(store)).length, 20)
})

t.test('a lingering subscriber should apply events that arrive close together in one batch', async (t) => {
  const store = await createStore(t)
  const batches: number[][] = []
  subscriber(t, { store, name: 'linger', lingerMs: 2000, handle: async (_trx, events) => { batches.push(events.map((e) => e.position)) } })
  await record(store.db, [{ position: 1, event: credit('ledger.l') }])
  await until(() => batches.length === 1)
  // The rest arrive one by one while the subscriber lingers after its one-event batch.
  for (let i = 2; i <= 10; i++) {
    await record(store.db, [{ position: i, event: credit('ledger.l') }])
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await until(() => batches.flat().length === 10)
  t.same(batches.flat(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'each once, in order')
  t.same(batches, [[1], [2, 3, 4, 5, 6, 7, 8, 9, 10]], 'the nine that came meanwhile share one batch')
})
