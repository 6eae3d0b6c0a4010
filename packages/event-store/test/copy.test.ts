import t from 'tap'
import { sql } from 'kysely'
import { onTeardown, until } from '@paylinks/test-kit'
import { copyRows, createClient, EventStoreErrorCodes } from '../src/index.js'
import { createStore } from './helpers.js'

t.test('copyRows should insert rows in the caller\'s transaction, text with tabs, newlines and backslashes intact', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE copied (n bigint PRIMARY KEY, label text, at timestamptz, doc jsonb)`.execute(store.db)
  const awkward = 'tab\there\nnew line\\back\rslash \\N'
  const rows = [
    [1, awkward, '2026-12-01T10:00:00.123Z', { a: 'x\ty' }],
    [2, null, new Date('2026-12-02T00:00:00.000Z'), null],
    // Enough rows to go in several pieces.
    ...Array.from({ length: 5000 }, (_, i) => [i + 3, `row ${i} ${'x'.repeat(20)}`, null, null])
  ]
  await store.db.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n', 'label', 'at', 'doc'], rows) })
  const read = await sql<{ n: number, label: string | null, at: Date | null, doc: unknown }>`SELECT * FROM copied WHERE n <= 2 ORDER BY n`.execute(store.db)
  t.same(read.rows.map((r) => [r.n, r.label, r.at?.toISOString() ?? null, r.doc]), [[1, awkward, '2026-12-01T10:00:00.123Z', { a: 'x\ty' }], [2, null, '2026-12-02T00:00:00.000Z', null]])
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM copied`.execute(store.db)).rows[0]!.n, 5002)
})

t.test('copyRows should roll back with its transaction', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE copied (n bigint PRIMARY KEY)`.execute(store.db)
  await t.rejects(store.db.transaction().execute(async (trx) => {
    await copyRows(trx, 'copied', ['n'], [[1], [2]])
    throw new Error('after the copy')
  }), /after the copy/)
  // A duplicate key fails the COPY itself, and the transaction with it.
  await t.rejects(store.db.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n'], [[3], [3]]) }))
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM copied`.execute(store.db)).rows[0]!.n, 0)
  // The connections are usable afterwards.
  await store.db.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n'], [[4]]) })
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM copied`.execute(store.db)).rows[0]!.n, 1)
})

t.test('copyRows should take rows from a generator as they are made, and abandon the COPY if it throws', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE copied (n bigint PRIMARY KEY, label text)`.execute(store.db)
  function * rows (until: number, failAt?: number): Generator<[number, string]> {
    for (let n = 1; n <= until; n++) {
      if (n === failAt) throw new Error(`no row ${n}`)
      yield [n, `row ${n} ${'x'.repeat(40)}`]
    }
  }
  // Two COPYs in one transaction (the second reuses the first's client), several pieces each.
  await store.db.transaction().execute(async (trx) => {
    await copyRows(trx, 'copied', ['n', 'label'], rows(3000))
    await copyRows(trx, 'copied', ['n', 'label'], (function * () { for (const [n, label] of rows(3000)) yield [n + 3000, label] })())
  })
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM copied`.execute(store.db)).rows[0]!.n, 6000)
  // Failing after some pieces were sent: the generator's error, nothing copied, the connection usable.
  await t.rejects(store.db.transaction().execute(async (trx) => {
    await sql`DELETE FROM copied`.execute(trx)
    await copyRows(trx, 'copied', ['n', 'label'], rows(5000, 4000))
  }), /no row 4000/)
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM copied`.execute(store.db)).rows[0]!.n, 6000)
  await store.db.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n', 'label'], rows(0)) })
  await store.db.connection().execute(async (conn) => {
    await t.rejects(conn.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n', 'label'], rows(10, 5)) }), /no row 5/)
    t.equal((await sql<{ one: number }>`SELECT 1 AS one`.execute(conn)).rows[0]!.one, 1)
  })
})

t.test('copyRows should refuse the pool itself: nothing ties its statements to one session', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE copied (n bigint)`.execute(store.db)
  await t.rejects(copyRows(store.db, 'copied', ['n'], [[1]]), { code: EventStoreErrorCodes.copyNeedsTransaction })
})

t.test('copyRows should fail, not hang, when its connection is lost before Postgres accepts the COPY', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE copied (n bigint)`.execute(store.db)
  // Another session holds the table: the COPY waits for its lock, so its first row is not accepted yet.
  const holder = createClient({ connectionString: store.url })
  await holder.connect()
  onTeardown(t, () => holder.end())
  await holder.query('BEGIN')
  await holder.query('LOCK TABLE copied IN ACCESS EXCLUSIVE MODE')
  const copying = store.db.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n'], [[1], [2]]) })
  const outcome = copying.then(() => 'copied', (error: Error) => error)
  // Looked at from the pool, outside a transaction: inside one (the holder's) pg_stat_activity is
  // the snapshot of its first read, which may predate the COPY.
  const copyWaiting = sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY copied%' AND wait_event_type = 'Lock'`
  await until(async () => (await copyWaiting.execute(store.db)).rows.length === 1, 10_000, 'the COPY waiting for the lock')
  // As a restart or failover would: the copying session ends.
  await sql`SELECT pg_terminate_backend(pid) FROM (${copyWaiting}) c`.execute(store.db)
  const result = await Promise.race([outcome, new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting after 10 s'))])
  t.type(result, Error, 'copyRows rejects with the connection\'s error')
  await holder.query('ROLLBACK')
  // The pool goes on with a new connection.
  await store.db.transaction().execute(async (trx) => { await copyRows(trx, 'copied', ['n'], [[3]]) })
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM copied`.execute(store.db)).rows[0]!.n, 1)
})
