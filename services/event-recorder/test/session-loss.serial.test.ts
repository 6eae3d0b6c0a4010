// Serial: recorder processes whose Postgres session is terminated, or which are frozen (SIGSTOP)
// with their session open, under a steady load; it waits on lock-loss timeouts, alone.
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import t from 'tap'
import { credit, onTeardown, roleUrl, spawnService, type ServiceProcess, type TestContext } from '@paylinks/test-kit'
import { connectClients, recorderEnv, until } from './helpers.js'
import { checkLog, follow, type Acks } from './workload.js'

const server = fileURLToPath(new URL('./fixtures/test-server.ts', import.meta.url))
const LOCK_ID = 7_202_611

/** A superuser connection to the test's database, to do to the recorder what an operator (or a failover) would. */
async function admin (t: TestContext, env: Record<string, string>): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: roleUrl(env.DATABASE_URL!, 'postgres') })
  await client.connect()
  onTeardown(t, () => client.end())
  return client
}

/** The backend holding the recorder's advisory lock in this database. */
async function lockHolder (client: pg.Client): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = $1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [LOCK_ID])
  return rows[0]?.pid
}

const count = (output: string, pattern: RegExp): number => (output.match(new RegExp(pattern, 'g')) ?? []).length

t.test('a recorder should never ack past a message another puller of its durable took', async (t) => {
  const env = await recorderEnv(t, { RECORDER_BATCH_SIZE: '20', LOG_LEVEL: 'info' })
  const { messaging, publisher, store } = await connectClients(t, env)
  const reader = follow(store)
  const acks: Acks = new Map()
  const recorder = spawnService(t, server, env)
  await recorder.waitFor(/"msg":"recording"/)
  // The stand-in for a recorder that lost its lock session but still pulls from the durable: it
  // takes messages and never records or acks them.
  const durable = await messaging.js.consumers.get(env.EVENTS_STREAM!, env.RECORDER_DURABLE!)
  let stolen = 0
  let publishing = true
  const load = (async () => {
    for (let i = 0; publishing; i++) {
      const [ack] = await publisher.publish([credit(`ledger.r${i % 5}`, i + 1)])
      acks.set(ack!.eventId, ack!.seq)
      await sleep(5)
    }
  })()
  onTeardown(t, async () => { publishing = false; await load.catch(() => {}) })
  while (stolen === 0) {
    const batch = await durable.fetch({ max_messages: 3, expires: 2000 })
    for await (const msg of batch) if (msg.seq > 0) stolen++
  }
  const head = await store.head()
  await until(async () => await store.head() > head + 100, 20_000, 'recording goes on')
  publishing = false
  await load
  t.comment(`${stolen} messages taken by the rogue puller, ${acks.size} published`)
  await until(async () => reader.read.length >= acks.size, { timeoutMs: 30_000, what: 'every acknowledged event is read from the store' }).catch(() => {})
  await reader.stop()
  checkLog(t, acks, reader.read, await store.readAll(0, 1_000_000))
  t.match(recorder.output(), /delivered to another puller/, 'the recorder saw the gap and started over')
})

t.test('a recorder whose lock session is killed while idle should not have its messages acked past by its successor', async (t) => {
  const env = await recorderEnv(t, { RECORDER_BATCH_SIZE: '20', LOG_LEVEL: 'info', RECORDER_LOCK_ID: String(LOCK_ID) })
  const { publisher, store } = await connectClients(t, env)
  const pgAdmin = await admin(t, env)
  const start = (): ServiceProcess => spawnService(t, server, env)
  const reader = follow(store)
  const acks: Acks = new Map()
  const publish = async (i: number): Promise<void> => {
    const [ack] = await publisher.publish([credit(`ledger.s${i % 7}`, i + 1)])
    acks.set(ack!.eventId, ack!.seq)
  }

  const first = start()
  await first.waitFor(/"msg":"recording"/)
  for (let i = 0; i < 10; i++) await publish(i)
  await until(async () => await store.head() >= Math.max(...acks.values()), 20_000, 'the first recorder records')
  const second = start()
  const firstPid = await until(async () => await lockHolder(pgAdmin), 10_000, 'the lock is held')

  // The first recorder is idle, pulling, and its session goes away under it (a failover, an
  // operator, a network cut to Postgres only). A new session takes the lock (the standby's, or
  // the first recorder's own new one) and resets the durable.
  const errorsBefore = count(first.output(), /recorder stopped on an error/)
  await pgAdmin.query('SELECT pg_terminate_backend($1)', [firstPid])
  await until(async () => { const pid = await lockHolder(pgAdmin); return pid !== undefined && pid !== firstPid }, 30_000, 'a new session holds the lock')
  const takeover = Date.now()

  // Steady load. Without a fence the first recorder's client re-pulls from the new durable of the
  // same name once its heartbeats go missing (about 30 s): messages it can no longer record go to
  // it, and the successor's ack-all acknowledges past them. Keep publishing until the first has
  // noticed it lost its session and then a while more, or until long past that re-pull.
  let i = 10
  let noticedAt: number | undefined
  while (i < 1700) {
    await publish(i++)
    if (noticedAt === undefined && count(first.output(), /recorder stopped on an error/) > errorsBefore) noticedAt = i
    if (noticedAt !== undefined && i > noticedAt + 200) break
    await sleep(20)
  }
  t.comment(`${i - 10} events published after the take-over, over ${Date.now() - takeover} ms; the old holder noticed ${noticedAt === undefined ? 'never' : `after ${noticedAt - 10} of them`}`)
  await until(async () => reader.read.length >= acks.size, { timeoutMs: 30_000, what: 'every acknowledged event is read from the store' }).catch(() => {})
  await reader.stop()
  checkLog(t, acks, reader.read, await store.readAll(0, 1_000_000))
  t.not(await lockHolder(pgAdmin), firstPid, 'the killed session no longer holds the lock')
  t.ok(/"msg":"recording"/.test(second.output()) || count(first.output(), /"msg":"recording"/) > 1, 'one of them records again')
  t.ok(noticedAt !== undefined, 'the old holder noticed it lost its session')
  t.equal(first.child.exitCode, null, 'and kept running (a lost connection is no crash)')
})

t.test('a frozen recorder should lose the lock to its standby, and record nothing twice when it wakes', async (t) => {
  const env = await recorderEnv(t, { RECORDER_BATCH_SIZE: '20', LOG_LEVEL: 'info', RECORDER_LOCK_ID: String(LOCK_ID), RECORDER_LOCK_SESSION_TIMEOUT_MS: '2000', RECORDER_HEARTBEAT_MS: '200' })
  const { publisher, store } = await connectClients(t, env)
  const pgAdmin = await admin(t, env)
  const start = (): ServiceProcess => spawnService(t, server, env)
  const reader = follow(store)
  const acks: Acks = new Map()
  let publishing = true
  const load = (async () => {
    for (let i = 0; publishing; i++) {
      const [ack] = await publisher.publish([credit(`ledger.f${i % 5}`, i + 1)])
      acks.set(ack!.eventId, ack!.seq)
      await sleep(10)
    }
  })()
  onTeardown(t, async () => { publishing = false; await load.catch(() => {}) })

  const frozen = start()
  await frozen.waitFor(/"msg":"recording"/)
  const standby = start()
  const head = await store.head()
  await until(async () => await store.head() > head + 50, 20_000, 'recording')
  const frozenPid = await lockHolder(pgAdmin)
  frozen.child.kill('SIGSTOP')
  onTeardown(t, () => { frozen.child.kill('SIGCONT') })
  const stoppedAt = Date.now()
  // Postgres ends the silent session (idle_session_timeout), the lock frees, the standby takes it.
  await standby.waitFor(/"msg":"recording"/, 30_000)
  t.comment(`the standby recorded ${Date.now() - stoppedAt} ms after the active recorder froze`)
  const during = await store.head()
  await until(async () => await store.head() > during + 50, 20_000, 'the standby records')
  t.not(await lockHolder(pgAdmin), frozenPid, 'the frozen recorder\'s session lost the lock')

  frozen.child.kill('SIGCONT')
  await frozen.waitFor(/recorder stopped on an error/, 20_000)
  const after = await store.head()
  await until(async () => await store.head() > after + 50, 20_000, 'recording goes on after the frozen one woke')
  publishing = false
  await load
  await until(async () => reader.read.length >= acks.size, { timeoutMs: 30_000, what: 'every acknowledged event is read from the store' }).catch(() => {})
  await reader.stop()
  checkLog(t, acks, reader.read, await store.readAll(0, 1_000_000))
})
