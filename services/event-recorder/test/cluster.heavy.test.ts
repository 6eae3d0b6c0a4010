// Heavy: three nats-server processes, a recorder process and three publishers, and a SIGKILL
// of the node that leads the stream while they work.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createEventStore, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { connectMessaging, createEventPublisher, defaultNatsTopology, ensureStream } from '@paylinks/messaging'
import { startAuthenticatedNatsCluster } from '@paylinks/messaging/testing'
import { onTeardown, roleUrl, spawnService, testRegistry, until } from '@paylinks/test-kit'
import { checkLog, follow, freePublisher, racingPublisher, type Acks } from './workload.js'

const server = fileURLToPath(new URL('./fixtures/test-server.ts', import.meta.url))

t.test('an R3 events stream on a 3-node cluster should lose and duplicate no acknowledged event when its leader is SIGKILLed under load', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const nats = await startAuthenticatedNatsCluster(t, defaultNatsTopology)
  const { cluster } = nats
  const env = {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.eventRecorder),
    ...nats.envFor('event-recorder'),
    NATS_STREAM_REPLICAS: '3',
    RECORDER_BATCH_SIZE: '50',
    RECORDER_STANDBY_POLL_MS: '50',
    RECORDER_RETRY_DELAY_MS: '50',
    LOG_LEVEL: 'info',
    PORT: '0'
  }
  // The publishers connect through the server list, as the services do, as the setup user.
  const messaging = await connectMessaging({ servers: cluster.servers, name: 'cluster-test', user: 'setup', pass: nats.passwords.setup! })
  onTeardown(t, () => messaging.close())
  const info = await ensureStream(messaging.jsm, { name: 'EVENTS', subjects: ['events.>'], maxAgeMs: 3_600_000, replicas: 3 })
  t.equal(info.config.num_replicas, 3, 'the stream is R3')
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: 'events', registry: testRegistry, retryDelayMs: 50 })
  const store = await createEventStore({ connectionString: url, registry: testRegistry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())

  const recorder = spawnService(t, server, env)
  await recorder.waitFor(/"msg":"recording"/, 60_000)
  const reader = follow(store)
  const acks: Acks = new Map()
  let publishing = true
  // A publish that fails for good rejects this and fails the test: the cluster must carry on.
  const publishers = Promise.all([
    ...Array.from({ length: 2 }, async (_, p) => { await freePublisher(publisher, acks, { prefix: `p${p}-`, count: 100_000, streams: 7, stop: () => !publishing }) }),
    racingPublisher(publisher, store, acks, { streamId: 'ledger.contested', count: 40 })
  ])

  await until(async () => await store.head() > 300, 60_000, 'recording on the cluster')
  const leader = await cluster.streamLeader('EVENTS')
  t.ok(leader, `the stream has a leader (${String(leader)})`)
  const killedAt = acks.size
  await cluster.kill(leader!, 'SIGKILL')
  await until(async () => {
    const now = await cluster.streamLeader('EVENTS')
    return now !== undefined && now !== leader
  }, 60_000, 'a new stream leader elected')
  await until(() => acks.size > killedAt + 300, 60_000, 'publishes acknowledged again without the old leader')
  const headWithout = await store.head()
  await until(async () => await store.head() > headWithout + 300, 60_000, 'the recorder records without the old leader')
  await cluster.restart(leader!)
  const headBack = await store.head()
  await until(async () => await store.head() > headBack + 300, 60_000, 'recording with the node back')

  publishing = false
  await publishers
  await until(() => reader.read.length >= acks.size, 60_000, 'the reader has every acknowledged event')
  await reader.stop()
  await recorder.kill('SIGTERM')

  t.ok(acks.size > 900, `${acks.size} events acknowledged across the leader's death`)
  const stored = await store.readAll(0, 1_000_000)
  checkLog(t, acks, reader.read, stored)
  // The global position is the JetStream sequence, across the leader change too: gapless, and
  // ending at the stream's last sequence (every message is an event here).
  const streamInfo = await nats.jsm.streams.info('EVENTS')
  t.equal(stored.at(-1)?.position, streamInfo.state.last_seq, 'the store ends at the stream\'s last sequence')
  t.ok(stored.every((e, i) => e.position === i + 1), 'positions 1..n without a gap')
  t.same((await store.readStream('ledger.contested')).map((e) => (e.data as { amount: { value: number } }).amount.value),
    Array.from({ length: 40 }, (_, i) => i + 1), 'racing decisions stayed consistent across the leader change')
  t.equal(streamInfo.cluster?.replicas?.length, 2, 'the restarted node is a replica again')
})
