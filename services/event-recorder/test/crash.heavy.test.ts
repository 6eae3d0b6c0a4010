// Heavy: spawns recorder processes and kills them while they commit.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { spawnService, type ServiceProcess } from '@paylinks/test-kit'
import { connectClients, recorderEnv, until } from './helpers.js'
import { checkLog, follow, freePublisher, racingPublisher, type Acks } from './workload.js'

const server = fileURLToPath(new URL('./fixtures/test-server.ts', import.meta.url))

t.test('the recorder should lose and duplicate nothing when SIGKILLed in the middle of batches', async (t) => {
  const env = await recorderEnv(t, { RECORDER_BATCH_SIZE: '50', LOG_LEVEL: 'info' })
  const { publisher, store } = await connectClients(t, env)
  const start = (): ServiceProcess => spawnService(t, server, env)
  const reader = follow(store)
  const acks: Acks = new Map()
  let publishing = true
  const publishers = Promise.all([
    ...Array.from({ length: 4 }, async (_, p) => { await freePublisher(publisher, acks, { prefix: `p${p}-`, count: 100_000, streams: 11, stop: () => !publishing }) }),
    racingPublisher(publisher, store, acks, { streamId: 'ledger.contested', count: 30 })
  ])

  let recorder = start()
  let kills = 0
  for (let round = 0; round < 4; round++) {
    // Let it record a while, then kill it without warning: mid-batch, mid-commit or mid-ack.
    const before = await store.head()
    await until(async () => await store.head() > before + 300, 60_000, `round ${round}: recording`)
    await recorder.kill('SIGKILL')
    kills++
    recorder = start()
  }
  // A standby beside the active one: killing the active hands over to it.
  const standby = start()
  const head = await store.head()
  await until(async () => await store.head() > head + 200, 60_000, 'recording before the hand-over')
  await recorder.kill('SIGKILL')
  kills++
  const handedOver = await store.head()
  await until(async () => await store.head() > handedOver + 200, 60_000, 'the standby records')

  publishing = false
  await publishers
  await until(() => reader.read.length >= acks.size, 60_000, 'the reader has every acknowledged event')
  await reader.stop()
  await standby.kill('SIGTERM')

  t.equal(kills, 5)
  t.ok(acks.size > 1500, `${acks.size} events published across the kills`)
  checkLog(t, acks, reader.read, await store.readAll(0, 1_000_000))
  t.same((await store.readStream('ledger.contested')).map((e) => (e.data as { amount: { value: number } }).amount.value),
    Array.from({ length: 30 }, (_, i) => i + 1), 'racing decisions stayed consistent across the crashes')
  t.match(standby.output(), /"msg":"recording"/, 'the standby took the lock and recorded')
})
