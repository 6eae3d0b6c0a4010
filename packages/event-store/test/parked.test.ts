import t from 'tap'
import { sql } from 'kysely'
import { Type } from '@sinclair/typebox'
import { ContractError, ContractErrorCodes, createEventRegistry, defineEvent, is, MoneySchema } from '@paylinks/contracts'
import { credit, LedgerCredited, LedgerOpened, onTeardown, testRegistry, type TestContext } from '@paylinks/test-kit'
import { countParked, createStoreSubscriber, listParked, readCheckpoint, record, replayParked, type ParkedEvent, type StoreSubscriberOptions } from '../src/index.js'
import { createStore } from './helpers.js'

async function until (predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function start<S extends { start: () => void, stop: () => Promise<void> }> (t: TestContext, s: S): S {
  onTeardown(t, () => s.stop())
  s.start()
  return s
}

// The next release of the ledger: credits carry who made them; v1 credits were by "someone".
const CreditedV2 = defineEvent('ledger.credited', Type.Object({ amount: MoneySchema, note: Type.Optional(Type.String()), by: Type.String() }, { additionalProperties: false }), {
  version: 2,
  upcasters: { 1: (data) => ({ ...data, by: 'someone' }) }
})
const upgraded = createEventRegistry([LedgerOpened, CreditedV2])

t.test('a store subscriber should park an event of a newer version, keep applying later ones, and replayParked should apply it once the reader knows that version', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE credits (position bigint PRIMARY KEY, value integer NOT NULL, by text NOT NULL)`.execute(store.db)
  interface Credits { credits: { position: number, value: number, by: string } }
  const v2 = { ...credit('ledger.a', 7), schemaVersion: 2, data: { amount: { value: 7, currencyCode: 'GBP' }, by: 'ada' } }
  await record(store.db, [
    { position: 1, event: credit('ledger.a', 1) },
    { position: 2, event: v2 }, // written by a producer already upgraded: a rolling deploy
    { position: 3, event: credit('ledger.a', 3) }
  ])
  const parkedSeen: ParkedEvent[] = []
  const handle: StoreSubscriberOptions<typeof LedgerCredited, Credits>['handle'] = async (trx, events) => {
    for (const e of events) {
      // Typed by the registry: no cast on the data, nor on the service's own table.
      await trx.insertInto('credits').values({ position: e.position, value: e.data.amount.value, by: 'someone' }).execute()
    }
  }
  const s = start(t, createStoreSubscriber({
    store, name: 'credits', registry: createEventRegistry([LedgerCredited]), standbyPollMs: 30, retryDelayMs: 20, handle, onParked: (p) => { parkedSeen.push(p) }
  }))
  await until(async () => await readCheckpoint(store.db, 'credits') === 3)
  await record(store.db, [{ position: 4, event: credit('ledger.a', 4) }])
  await until(async () => await readCheckpoint(store.db, 'credits') === 4)
  const values = async (): Promise<unknown[]> => (await sql<{ position: number, by: string }>`SELECT position, by FROM credits ORDER BY position`.execute(store.db)).rows.map((r) => [Number(r.position), r.by])
  t.same(await values(), [[1, 'someone'], [3, 'someone'], [4, 'someone']], 'the events around the unreadable one are applied, and the reader went on')
  t.same(parkedSeen.map((p) => [p.position, p.code]), [[2, ContractErrorCodes.unsupportedVersion]], 'onParked told once')
  t.equal(s.status().parked, 1)
  t.same(await countParked(store.db), { credits: 1 })
  const [parked] = await listParked(store.db, { subscriber: 'credits' })
  t.match(parked, { position: 2, eventId: v2.id, type: 'ledger.credited', schemaVersion: 2, reason: /reads up to v1/, replayedAt: null })

  const stale = await replayParked(store.db, 'credits', { registry: createEventRegistry([LedgerCredited]), apply: async () => { throw new Error('never called') } })
  t.same([stale.replayed.length, stale.stillParked.map((p) => p.position)], [0, [2]], 'a reader not yet upgraded leaves it parked')

  const replay = await replayParked<typeof CreditedV2 | typeof LedgerOpened, Credits>(store.db, 'credits', {
    registry: upgraded,
    apply: async (trx, events) => {
      for (const e of events) {
        if (is(e, CreditedV2)) await trx.insertInto('credits').values({ position: e.position, value: e.data.amount.value, by: e.data.by }).execute()
      }
    }
  })
  t.same(replay.replayed.map((p) => p.position), [2])
  t.same(await values(), [[1, 'someone'], [2, 'ada'], [3, 'someone'], [4, 'someone']], 'the upgraded reader applied the parked event')
  t.same(await countParked(store.db), {}, 'nothing waits any more')
  t.same((await replayParked(store.db, 'credits', { registry: upgraded, apply: async () => { throw new Error('applied twice') } })).replayed, [], 'a second replay applies nothing')
})

t.test('a store subscriber should park the event its handler cannot read and apply the rest of the batch exactly once', async (t) => {
  const store = await createStore(t)
  await sql`CREATE TABLE applied (position bigint PRIMARY KEY, n integer NOT NULL DEFAULT 1)`.execute(store.db)
  await record(store.db, Array.from({ length: 12 }, (_, i) => ({ position: i + 1, event: credit('ledger.h', i === 5 ? 666 : i + 1) })))
  start(t, createStoreSubscriber({
    store,
    name: 'picky',
    batchSize: 100,
    standbyPollMs: 30,
    retryDelayMs: 20,
    handle: async (trx, events) => {
      for (const e of events) {
        await sql`INSERT INTO applied (position) VALUES (${e.position}) ON CONFLICT (position) DO UPDATE SET n = applied.n + 1`.execute(trx)
        if ((e.data as { amount: { value: number } }).amount.value === 666) throw new ContractError(ContractErrorCodes.invalidData, `event ${e.id}: no such amount`)
      }
    }
  }))
  await until(async () => await readCheckpoint(store.db, 'picky') === 12)
  const rows = (await sql<{ position: number, n: number }>`SELECT position, n FROM applied ORDER BY position`.execute(store.db)).rows
  t.same(rows.map((r) => Number(r.position)), [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12], 'all but the unreadable one')
  t.ok(rows.every((r) => r.n === 1), 'each applied once, although the batch was tried again one by one')
  t.same((await listParked(store.db, { subscriber: 'picky' })).map((p) => [p.position, p.code]), [[6, ContractErrorCodes.invalidData]])
})

t.test('a store subscriber without a registry of its own should park what the store\'s registry cannot read', async (t) => {
  const store = await createStore(t) // its registry is the test vocabulary at v1
  const seen: number[] = []
  await record(store.db, [
    { position: 1, event: credit('ledger.s', 1) },
    { position: 2, event: { ...credit('ledger.s', 2), data: { amount: { value: 'two', currencyCode: 'GBP' } } } },
    { position: 3, event: { ...credit('ledger.s', 3), type: 'ledger.audited' } } // not the store's to judge: passes as stored
  ])
  start(t, createStoreSubscriber({ store, name: 'plain', standbyPollMs: 30, retryDelayMs: 20, handle: async (_trx, events) => { seen.push(...events.map((e) => e.position)) } }))
  await until(async () => await readCheckpoint(store.db, 'plain') === 3)
  t.same(seen, [1, 3])
  t.same((await listParked(store.db)).map((p) => [p.subscriber, p.position, p.code]), [['plain', 2, ContractErrorCodes.invalidData]])
  t.ok(testRegistry.has('ledger.credited'))
})

t.test('the store\'s live read should hand over an event it cannot upcast as stored instead of throwing', async (t) => {
  const store = await createStore(t)
  const newer = { ...credit('ledger.r', 2), schemaVersion: 2, data: { amount: { value: 2, currencyCode: 'GBP' }, by: 'ada' } }
  await record(store.db, [{ position: 1, event: credit('ledger.r', 1) }, { position: 2, event: newer }, { position: 3, event: credit('ledger.r', 3) }])
  const controller = new AbortController()
  const read: Array<[number, number]> = []
  for await (const batch of store.subscribe({ after: 0, signal: controller.signal })) {
    read.push(...batch.map((e): [number, number] => [e.position, e.schemaVersion]))
    if (read.length >= 3) controller.abort()
  }
  t.same(read, [[1, 1], [2, 2], [3, 1]], 'the reader decides what to do with version 2')
  await t.rejects(store.readAll(0), { code: ContractErrorCodes.unsupportedVersion }, 'a one-off read still says it cannot read it')
})
