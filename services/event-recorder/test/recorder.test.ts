import t from 'tap'
import { credit } from '@paylinks/test-kit'
import { buildRecorder, connectClients, recorderEnv, until } from './helpers.js'
import { checkLog, follow, freePublisher, racingPublisher, type Acks } from './workload.js'

t.test('the recorder should record every acknowledged event once, in log order, while publishers race', async (t) => {
  const env = await recorderEnv(t, { RECORDER_BATCH_SIZE: '100' })
  const { publisher, store } = await connectClients(t, env)
  const recorder = await buildRecorder(t, env)
  const reader = follow(store)
  const acks: Acks = new Map()
  const results = await Promise.all([
    ...Array.from({ length: 6 }, async (_, p) => { await freePublisher(publisher, acks, { prefix: `p${p}-`, count: 200, streams: 7 }); return { conflicts: 0 } }),
    // Four deciders on one stream, two on another: each decision is based on the stored state.
    ...Array.from({ length: 4 }, async () => await racingPublisher(publisher, store, acks, { streamId: 'ledger.contested', count: 15 })),
    ...Array.from({ length: 2 }, async () => await racingPublisher(publisher, store, acks, { streamId: 'ledger.pair', count: 15 }))
  ])
  await until(() => reader.read.length >= acks.size, 30_000, 'reader caught up')
  await reader.stop()
  const stored = await store.readAll(0, 100_000)
  checkLog(t, acks, reader.read, stored)
  t.equal(acks.size, 6 * 200 + 90)
  const contested = await store.readStream('ledger.contested')
  t.same(contested.map((e) => (e.data as { amount: { value: number } }).amount.value), Array.from({ length: 60 }, (_, i) => i + 1),
    'each racing decision saw the state before it: the ledger counts 1..60 with no two alike')
  t.ok(results.reduce((n, r) => n + r.conflicts, 0) > 0, 'racers did conflict and reload')
  const metrics = (await recorder.inject('/metrics')).body
  t.match(metrics, new RegExp(`event_recorder_events_recorded_total ${acks.size}\\b`))
  t.match(metrics, /event_recorder_lag_events 0\b/)
  t.match(metrics, /event_recorder_active 1\b/)
})

t.test('the recorder should store an event re-published after the de-duplication window once', async (t) => {
  const env = await recorderEnv(t, { EVENTS_DUPLICATE_WINDOW_MS: '200' })
  const { publisher, store } = await connectClients(t, env)
  const recorder = await buildRecorder(t, env)
  const event = credit('ledger.window')
  const [first] = await publisher.publish([event])
  await new Promise((resolve) => setTimeout(resolve, 500))
  const [again] = await publisher.publish([event])
  t.equal(again?.duplicate, false, 'JetStream no longer remembers the id')
  t.ok(again!.seq > first!.seq, 'and stored it again')
  const [after] = await publisher.publish([credit('ledger.window')])
  await store.waitForPosition(after!.seq)
  t.same((await store.readStream('ledger.window')).map((e) => [e.id, e.position, e.streamVersion]), [[event.id, first!.seq, 1], [after!.eventId, after!.seq, 2]])
  // The store announces the commit before the recorder, answered a moment later, counts the skip.
  const skipped = async (): Promise<string> => (await recorder.inject('/metrics')).body
  await until(async () => /event_recorder_duplicates_skipped_total 1\b/.test(await skipped()), 10_000, 'the skip counted')
  t.match(await skipped(), /event_recorder_duplicates_skipped_total 1\b/)
})

t.test('the recorder should keep messages that are not events as dead letters and go on', async (t) => {
  const env = await recorderEnv(t)
  const { messaging, publisher, store } = await connectClients(t, env)
  await buildRecorder(t, env)
  await messaging.js.publish(`${env.EVENTS_SUBJECT_PREFIX}.ledger.junk`, '{"not":"an event"')
  await messaging.js.publish(`${env.EVENTS_SUBJECT_PREFIX}.ledger.other`, JSON.stringify(credit('ledger.mismatch')))
  const [ok] = await publisher.publish([credit('ledger.fine')])
  await store.waitForPosition(ok!.seq)
  const letters = await store.db.selectFrom('es_dead_letters').select(['position', 'reason']).orderBy('position').execute()
  t.equal(letters.length, 2)
  t.match(letters[0]?.reason, /not JSON/)
  t.match(letters[1]?.reason, /does not match stream ledger.mismatch/)
  t.equal((await store.readAll(0)).length, 1)
})

t.test('a standby recorder should take over when the active one stops, losing nothing', async (t) => {
  const env = await recorderEnv(t)
  const { publisher, store } = await connectClients(t, env)
  const first = await buildRecorder(t, env)
  const second = await buildRecorder(t, env)
  await until(async () => (await first.inject('/status')).json().active === true || (await second.inject('/status')).json().active === true, 10_000, 'one active')
  const [active, standby] = (await first.inject('/status')).json().active === true ? [first, second] : [second, first]
  t.equal((await standby.inject('/status')).json().active, false, 'only one records')
  const acks: Acks = new Map()
  await freePublisher(publisher, acks, { prefix: 'a', count: 50, streams: 3 })
  await active.close()
  await freePublisher(publisher, acks, { prefix: 'b', count: 50, streams: 3 })
  await store.waitForPosition(Math.max(...acks.values()), 10_000)
  t.equal((await standby.inject('/status')).json().active, true, 'the standby took over')
  t.equal((await store.readAll(0, 1000)).length, 100)
})
