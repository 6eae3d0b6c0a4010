// Serial: these tests assert on when commits become visible to a reader.
import t from 'tap'
import { credit, onTeardown, testRegistry } from '@paylinks/test-kit'
import { createEventStore, EventStoreErrorCodes, headPosition, record } from '../src/index.js'
import { createClient } from '../src/database.js'
import { Notifier } from '../src/notifier.js'
import { createStore } from './helpers.js'

t.test('subscribe should catch up on stored events, then follow new ones live', async (t) => {
  const store = await createStore(t, { pollIntervalMs: 60_000 }) // only NOTIFY can wake it in time
  await record(store.db, Array.from({ length: 25 }, (_, i) => ({ position: i + 1, event: credit(`ledger.s${i % 3}`) })))
  const controller = new AbortController()
  const seen: number[] = []
  const reading = (async () => {
    for await (const batch of store.subscribe({ after: 5, batchSize: 7, signal: controller.signal })) {
      t.ok(batch.length <= 7, 'batches respect the batch size')
      seen.push(...batch.map((e) => e.position))
      if (seen.length === 20 + 10) controller.abort()
    }
  })()
  while (seen.length < 20) await new Promise((resolve) => setTimeout(resolve, 10))
  for (let i = 0; i < 10; i++) {
    await store.db.transaction().execute(async (trx) => { await record(trx, [{ position: 100 + i, event: credit('ledger.live') }]) })
  }
  await reading
  t.same(seen, [...Array.from({ length: 20 }, (_, i) => i + 6), ...Array.from({ length: 10 }, (_, i) => 100 + i)])
})

t.test('subscribe should not read ahead of a slow consumer', async (t) => {
  const store = await createStore(t)
  await record(store.db, Array.from({ length: 10 }, (_, i) => ({ position: i + 1, event: credit('ledger.slow') })))
  const iterator = store.subscribe({ after: 0, batchSize: 2 })
  const first = await iterator.next()
  t.same(first.value?.map((e) => e.position), [1, 2])
  // Nothing is read until the consumer asks: the generator is suspended at its yield.
  await record(store.db, [{ position: 11, event: credit('ledger.slow') }])
  const rest: number[] = []
  for await (const batch of iterator) {
    rest.push(...batch.map((e) => e.position))
    if (rest.length === 9) break
  }
  t.same(rest, [3, 4, 5, 6, 7, 8, 9, 10, 11])
})

t.test('waitForPosition should resolve once the position is recorded, and time out otherwise', async (t) => {
  const store = await createStore(t, { pollIntervalMs: 60_000 })
  const waiting = store.waitForPosition(3, 5000)
  setTimeout(() => { void record(store.db, [{ position: 3, event: credit('ledger.w') }]) }, 50)
  await t.resolves(waiting)
  await t.rejects(store.waitForPosition(4, 100), { code: EventStoreErrorCodes.timeout })
})

t.test('waitForPosition should see positions recorded before the store was opened, without a notification', async (t) => {
  const first = await createStore(t)
  await record(first.db, [{ position: 1, event: credit('ledger.old') }, { position: 2, event: credit('ledger.old') }])
  // Polling is out of reach (60 s), so only the head read when LISTEN began can answer.
  const late = await createEventStore({ connectionString: first.url, registry: testRegistry, pollIntervalMs: 60_000 })
  onTeardown(t, () => late.close())
  await t.resolves(late.waitForPosition(2, 2000))
  await t.rejects(late.waitForPosition(3, 100), { code: EventStoreErrorCodes.timeout })

  // What makes that free of queries: LISTEN is seeded with the head as it begins.
  const notifier = new Notifier(() => createClient({ connectionString: first.url }), async () => await headPosition(first.db))
  onTeardown(t, () => notifier.close())
  await notifier.start()
  t.equal(notifier.latest, 2, 'seeded with the head')
  t.ok(notifier.live, 'live once LISTEN is on')
  await notifier.close()
  t.notOk(notifier.live, 'not live once closed')
})
