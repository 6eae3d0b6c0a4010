import t from 'tap'
import { sql } from 'kysely'
import type { RecordedEvent } from '@paylinks/contracts'
import { credit, onTeardown, until } from '@paylinks/test-kit'
import { createStoreSubscriber, readCheckpoint, record, type EventStore } from '../src/index.js'
import { createStore } from './helpers.js'

// The test database belongs to the superuser the tests connect as, so the store's own pool can
// end the other sessions, as an operator or a failover would.
async function terminate (store: EventStore, where: ReturnType<typeof sql>): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(pg_terminate_backend(pid))::int AS n FROM (${where}) s`.execute(store.db)
  return rows[0]?.n ?? 0
}
const listeners = sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`
const lockHolders = sql`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

t.test('a live reader should get events recorded while its LISTEN connection was lost, without waiting for a poll', async (t) => {
  // A poll a minute away: only the notifier (a notification, or its catch-up on reconnecting) can wake the reader in time.
  const store = await createStore(t, { pollIntervalMs: 60_000 })
  const read: RecordedEvent[] = []
  const controller = new AbortController()
  const reading = (async () => { for await (const batch of store.subscribe({ after: 0, signal: controller.signal })) read.push(...batch) })()
  onTeardown(t, async () => { controller.abort(); await reading })
  const listening = async (): Promise<boolean> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM (${listeners}) s`.execute(store.db)).rows[0]!.n === 1
  await until(listening, 10_000, 'LISTEN on')
  await record(store.db, [{ position: 1, event: credit('ledger.n') }])
  await until(() => read.length === 1, 10_000, 'notified')

  t.equal(await terminate(store, listeners), 1, 'the LISTEN session is ended')
  // Recorded while the notifier has no connection: no NOTIFY reaches it.
  await record(store.db, Array.from({ length: 5 }, (_, i) => ({ position: i + 2, event: credit('ledger.n') })))
  await until(() => read.length === 6, 10_000, 'the events recorded meanwhile are read once LISTEN is back')
  await until(listening, 10_000, 'LISTEN on again')
  await record(store.db, [{ position: 7, event: credit('ledger.n') }])
  await until(() => read.length === 7, 10_000, 'notifications arrive again')
  t.same(read.map((e) => e.position), [1, 2, 3, 4, 5, 6, 7], 'each once, in order')
})

t.test('a store subscriber should survive losing its lock session and apply every event exactly once', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE applied (position bigint PRIMARY KEY, n integer NOT NULL DEFAULT 1)`.execute(store.db)
  const errors: string[] = []
  const s = createStoreSubscriber({
    store,
    name: 'survivor',
    standbyPollMs: 30,
    retryDelayMs: 20,
    log: { info: () => {}, error: (o: object) => { errors.push(String((o as { err?: Error }).err?.message)) } },
    handle: async (trx, events) => {
      for (const e of events) await sql`INSERT INTO applied (position) VALUES (${e.position}) ON CONFLICT (position) DO UPDATE SET n = applied.n + 1`.execute(trx)
    }
  })
  onTeardown(t, () => s.stop())
  s.start()
  await record(store.db, Array.from({ length: 10 }, (_, i) => ({ position: i + 1, event: credit('ledger.s') })))
  await until(async () => (await readCheckpoint(store.db, 'survivor')) === 10)
  t.equal(await terminate(store, lockHolders), 1, 'the session holding the subscriber\'s lock is ended')
  await record(store.db, Array.from({ length: 10 }, (_, i) => ({ position: i + 11, event: credit('ledger.s') })))
  await until(async () => (await readCheckpoint(store.db, 'survivor')) === 20, 10_000, 'applying again from the checkpoint')
  const rows = (await sql<{ position: number, n: number }>`SELECT position, n FROM applied ORDER BY position`.execute(store.db)).rows
  t.same(rows.map((r) => r.position), Array.from({ length: 20 }, (_, i) => i + 1))
  t.ok(rows.every((r) => r.n === 1), 'each once')
  t.ok(errors.length >= 1, 'the loss was reported')
  t.equal(s.status().active, true)
})
