import t from 'tap'
import { sql } from 'kysely'
import { credit, onTeardown, testRegistry } from '@paylinks/test-kit'
import { createDatabase, createEventStore, EventStoreErrorCodes, readCheckpoint, record, recordDeadLetter, saveCheckpoint } from '../src/index.js'
import { createMigratedTestDatabase } from '../src/testing.js'
import { createStore } from './helpers.js'

t.test('record should insert in log order, number each stream without gaps and skip known ids', async (t) => {
  const store = await createStore(t)
  const a1 = credit('ledger.a'); const b1 = credit('ledger.b'); const a2 = credit('ledger.a')
  const first = await record(store.db, [{ position: 1, event: a1 }, { position: 2, event: b1 }, { position: 4, event: a2 }])
  t.same(first.recorded.map((e) => [e.position, e.streamId, e.streamVersion]), [[1, 'ledger.a', 1], [2, 'ledger.b', 1], [4, 'ledger.a', 2]])
  // a1 re-published after JetStream's duplicate window: a new sequence, the same id.
  const a3 = credit('ledger.a')
  const second = await record(store.db, [{ position: 7, event: a1 }, { position: 8, event: a3 }, { position: 9, event: a3 }])
  t.same(second.skipped.map((s) => s.position), [7, 9], 'a known id and an id repeated within the batch are skipped')
  t.same(second.recorded.map((e) => [e.position, e.streamVersion]), [[8, 3]], 'the stream version continues without a gap')
  const redelivered = await record(store.db, [{ position: 8, event: a3 }])
  t.same(redelivered.recorded, [], 'a redelivered position is skipped too')
  t.same((await store.readStream('ledger.a')).map((e) => e.position), [1, 4, 8])
  t.same((await store.readAll(1, 2)).map((e) => e.position), [2, 4])
  t.equal(await store.head(), 8)
  await t.rejects(record(store.db, [{ position: 12, event: credit('ledger.c') }, { position: 11, event: credit('ledger.c') }]), { code: EventStoreErrorCodes.outOfOrder })
})

t.test('the events table should refuse UPDATE, DELETE and TRUNCATE, for superusers too', async (t) => {
  const store = await createStore(t)
  await record(store.db, [{ position: 1, event: credit('ledger.a') }])
  await t.rejects(sql`UPDATE es_events SET type = 'ledger.opened'`.execute(store.db), /es_events is append-only: UPDATE is not allowed/)
  await t.rejects(sql`DELETE FROM es_events`.execute(store.db), /append-only: DELETE/)
  await t.rejects(sql`TRUNCATE es_events`.execute(store.db), /append-only: TRUNCATE/)
  t.equal(await store.head(), 1, 'the event is still there')
})

t.test('the store\'s group roles should let the recorder insert but not change, the app only read, and the reader not read the log', async (t) => {
  const store = await createStore(t)
  await store.db.connection().execute(async (conn) => {
    const insert = sql`INSERT INTO es_events (position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at) VALUES (1, gen_random_uuid(), 'a.b', 1, 'a.b', 1, '{}', '{}', now())`
    await sql`SET ROLE paylinks_app`.execute(conn)
    await t.rejects(insert.execute(conn), /permission denied/)
    t.same((await sql`SELECT count(*)::int AS n FROM es_events`.execute(conn)).rows, [{ n: 0 }])
    await sql`RESET ROLE`.execute(conn)
    // The log holds customers' personal data: analysts read the analytics views instead.
    await sql`SET ROLE paylinks_reader`.execute(conn)
    await t.rejects(insert.execute(conn), /permission denied/)
    await t.rejects(sql`SELECT count(*) FROM es_events`.execute(conn), /permission denied/)
    await sql`RESET ROLE`.execute(conn)
    await sql`SET ROLE paylinks_recorder`.execute(conn)
    await record(conn, [{ position: 1, event: credit('ledger.a') }])
    await t.rejects(sql`DELETE FROM es_events`.execute(conn), /permission denied/)
    await sql`RESET ROLE`.execute(conn)
  })
})

t.test('recordDeadLetter should keep what is not an event, once', async (t) => {
  const store = await createStore(t)
  await recordDeadLetter(store.db, { position: 3, subject: 'x.y', reason: 'not JSON', body: '{oops' })
  await recordDeadLetter(store.db, { position: 3, subject: 'x.y', reason: 'not JSON', body: '{oops' })
  const rows = await store.db.selectFrom('es_dead_letters').selectAll().execute()
  t.equal(rows.length, 1)
  t.equal(rows[0]?.body, '{oops')
})

t.test('saveCheckpoint should move only from the expected position, with the caller\'s transaction', async (t) => {
  const store = await createStore(t)
  t.equal(await readCheckpoint(store.db, 'proj'), 0)
  await saveCheckpoint(store.db, 'proj', 0, 5)
  t.equal(await readCheckpoint(store.db, 'proj'), 5)
  await t.rejects(saveCheckpoint(store.db, 'proj', 0, 9), { code: EventStoreErrorCodes.checkpointConflict })
  await t.rejects(saveCheckpoint(store.db, 'proj', 4, 9), { code: EventStoreErrorCodes.checkpointConflict })
  await t.rejects(store.db.transaction().execute(async (trx) => {
    await saveCheckpoint(trx, 'proj', 5, 9)
    throw new Error('the effect failed')
  }), /the effect failed/)
  t.equal(await readCheckpoint(store.db, 'proj'), 5, 'a rolled-back effect leaves the checkpoint where it was')
  await saveCheckpoint(store.db, 'proj', 5, 9)
  t.equal(await readCheckpoint(store.db, 'proj'), 9)
})

t.test('readStream should upcast with the registry', async (t) => {
  const store = await createStore(t)
  await record(store.db, [{ position: 1, event: credit('ledger.z', 250) }])
  const [event] = await store.readStream('ledger.z')
  t.match(event, { type: 'ledger.credited', schemaVersion: 1, streamVersion: 1, position: 1, data: { amount: { value: 250, currencyCode: 'GBP' } } })
})

t.test('readStreams should read several streams in one go, each in version order, upcast, with empty ones kept', async (t) => {
  const store = await createStore(t)
  await record(store.db, [
    { position: 1, event: credit('ledger.m', 100) }, { position: 2, event: credit('ledger.n', 200) }, { position: 3, event: credit('ledger.m', 300) }
  ])
  const streams = await store.readStreams(['ledger.n', 'ledger.m', 'ledger.none', 'ledger.m'])
  t.same([...streams.keys()].sort(), ['ledger.m', 'ledger.n', 'ledger.none'])
  t.same(streams.get('ledger.m')!.map((e) => [e.position, e.streamVersion]), [[1, 1], [3, 2]])
  t.match(streams.get('ledger.n'), [{ type: 'ledger.credited', schemaVersion: 1, data: { amount: { value: 200, currencyCode: 'GBP' } } }])
  t.same(streams.get('ledger.none'), [])
  t.same((await store.readStreams([])).size, 0)
})

t.test('readStreams should read each stream only past the version given for it', async (t) => {
  const store = await createStore(t)
  await record(store.db, [
    { position: 1, event: credit('ledger.p', 100) }, { position: 2, event: credit('ledger.q', 200) }, { position: 3, event: credit('ledger.p', 300) },
    { position: 4, event: credit('ledger.q', 400) }, { position: 5, event: credit('ledger.p', 500) }
  ])
  const streams = await store.readStreams(['ledger.p', 'ledger.q', 'ledger.none'], { afterVersions: new Map([['ledger.p', 1], ['ledger.q', 2]]) })
  t.same(streams.get('ledger.p')!.map((e) => [e.position, e.streamVersion]), [[3, 2], [5, 3]])
  t.same(streams.get('ledger.q'), [])
  t.same(streams.get('ledger.none'), [])
  t.match(streams.get('ledger.p'), [{ type: 'ledger.credited', data: { amount: { value: 300 } } }, { data: { amount: { value: 500 } } }])
  // A stream without a version given is read from its start.
  t.same((await store.readStreams(['ledger.q'], { afterVersions: new Map() })).get('ledger.q')!.map((e) => e.streamVersion), [1, 2])
})

t.test('readers should pass events of types they do not know through as stored', async (t) => {
  const store = await createStore(t)
  const foreign = { ...credit('ledger.f'), type: 'ledger.audited', data: { by: 'a newer service' } }
  await record(store.db, [{ position: 1, event: foreign }, { position: 2, event: credit('ledger.f') }])
  const events = await store.readStream('ledger.f')
  t.same(events.map((e) => e.type), ['ledger.audited', 'ledger.credited'])
  t.same(events[0]?.data, { by: 'a newer service' })
})

t.test('createEventStore should read through a pool it is given and leave that pool open on close', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const db = createDatabase({ connectionString: url, max: 2, applicationName: 'shared-pool-test' })
  onTeardown(t, () => db.destroy())
  const store = await createEventStore({ connectionString: url, db, registry: testRegistry, pollIntervalMs: 50, applicationName: 'shared-pool-test' })
  t.equal(store.db, db, 'the store hands out the same Kysely instance')
  await record(db, [{ position: 1, event: credit('ledger.a') }])
  await store.waitForPosition(1, 5000)
  t.same((await store.readStream('ledger.a')).map((e) => e.position), [1])
  const connections = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'shared-pool-test'`.execute(db)
  t.ok(connections.rows[0]!.n <= 3, `at most the pool (2) and the LISTEN connection: ${connections.rows[0]!.n}`)
  await store.close()
  t.equal((await sql<{ one: number }>`SELECT 1 AS one`.execute(db)).rows[0]?.one, 1, 'the pool still works after the store closed')
})
