// Isolated and heavy: a Postgres and a nats-server of the test's own, each stopped and started
// again under a steady load of signed webhooks, with the recorder, webhook-ingest and the
// projector as real processes (and the sandbox as Dojo).
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import t from 'tap'
import { sql, type Kysely } from 'kysely'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { signWebhookBody } from '@paylinks/dojo-client'
import { createDatabase, DATABASE_ROLES, migrateToLatest } from '@paylinks/event-store'
import { createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream } from '@paylinks/messaging'
import { freePort, onTeardown, roleUrl, spawnService, startNatsServer, startPostgresServer, until } from '@paylinks/test-kit'
import { webhookEventId } from '../src/ids.js'
import type { Tables } from '../src/tables.js'
import { dojoClient, INGEST_ENTRY, issueLink, startSandbox } from './helpers.js'

const entry = (service: string): string => fileURLToPath(new URL(`../../${service}/src/server.ts`, import.meta.url))
const LINKS = 8

const postgres = await startPostgresServer(t)
const nats = await startNatsServer(t, { authorization: '' })
const admin = new pg.Client({ connectionString: postgres.url })
await admin.connect()
await admin.query('CREATE DATABASE paylinks')
await admin.end()
const ownerUrl = postgres.url.replace(/\/postgres$/, '/paylinks')
const owner = createDatabase<Tables>({ connectionString: ownerUrl, max: 2 })
onTeardown(t, () => owner.destroy())
await migrateToLatest(owner as unknown as Kysely<any>)

const sandbox = await startSandbox(t)
const keys = randomBytes(32).toString('base64')
const box = createSecretBox([keys])
const dojoKey = `sk_sandbox_${randomBytes(12).toString('hex')}`
const merchant = await createMerchant(owner as unknown as Kysely<MerchantTables>, box, { name: 'Restart shop', dojoSecretKey: dojoKey, dojoBaseUrl: sandbox.url })
const secret = randomBytes(16).toString('base64url')
await owner.insertInto('wi_subscriptions').values({
  merchant_id: merchant.id, subscription_id: 'ws_restart', url: 'http://127.0.0.1/restart', secrets_enc: box.encrypt(JSON.stringify([{ id: 'sc_restart', value: secret, active: true }]))
}).execute()

const shared = {
  NATS_URL: nats.url,
  EVENTS_STREAM: 'EVENTS',
  EVENTS_SUBJECT_PREFIX: 'events',
  RECORDER_DURABLE: 'event-recorder',
  MIGRATE_ON_START: 'false',
  LOG_LEVEL: 'warn',
  LOG_FORMAT: 'json',
  HOST: '127.0.0.1',
  DATABASE_POOL_SIZE: '4'
}
const [recorderPort, ingestPort, projectorPort] = await Promise.all([freePort(), freePort(), freePort()])
const services = {
  'event-recorder': { port: recorderPort, process: spawnService(t, entry('event-recorder'), { ...shared, PORT: String(recorderPort), DATABASE_URL: roleUrl(ownerUrl, DATABASE_ROLES.eventRecorder), RECORDER_LINGER_MS: '5' }) },
  'webhook-ingest': {
    port: ingestPort,
    process: spawnService(t, INGEST_ENTRY, {
      ...shared,
      PORT: String(ingestPort),
      PUBLIC_URL: `http://127.0.0.1:${ingestPort}`,
      DATABASE_URL: roleUrl(ownerUrl, DATABASE_ROLES.webhookIngest),
      SECRETS_ENCRYPTION_KEYS: keys,
      SUBSCRIPTION_SYNC_ON_START: 'false',
      CONFIRM_POLL_MS: '100',
      CONFIRM_RETRY_BASE_MS: '200',
      CONFIRM_RETRY_MAX_MS: '1000',
      RECONCILE_INTERVAL_MS: '3600000',
      RECONCILE_QUIET_AFTER_MS: '3600000'
    })
  },
  projector: { port: projectorPort, process: spawnService(t, entry('projector'), { ...shared, PORT: String(projectorPort), DATABASE_URL: roleUrl(ownerUrl, DATABASE_ROLES.projector), PROJECTION_RECONCILE_MS: '500' }) }
}
type Service = keyof typeof services
const names = Object.keys(services) as Service[]

interface Readiness { status: number, checks: Record<string, string> }
async function readiness (service: Service): Promise<Readiness> {
  try {
    const r = await fetch(`http://127.0.0.1:${services[service].port}/readyz`, { signal: AbortSignal.timeout(5000) })
    const body = await r.json() as { checks?: Record<string, string> }
    return { status: r.status, checks: body.checks ?? {} }
  } catch (error) {
    return { status: 0, checks: { http: (error as Error).message } }
  }
}
await until(async () => (await Promise.all(names.map(readiness))).every((r) => r.status === 200), { timeoutMs: 90_000, intervalMs: 200, what: 'every service ready' })

// Links whose intents exist at the sandbox (their confirmations read real intents).
const messaging = await connectMessaging({ servers: nats.url, name: 'restart-test' })
onTeardown(t, () => messaging.close())
await ensureStream(messaging.jsm, { name: 'EVENTS', subjects: ['events.>'], maxAgeMs: 3_600_000 })
const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: 'events', registry: createEventRegistry(domainEvents), retryDelayMs: 20 })
const dojo = dojoClient(t, sandbox.url, dojoKey)
const intents: string[] = []
for (let i = 0; i < LINKS; i++) {
  const intent = await dojo.createPaymentIntent({ amount: { value: 1000 + i, currencyCode: 'GBP' }, reference: `restart-${i}`, paymentSource: 'payment-links' })
  await issueLink({ publisher }, merchant.id, intent.id, 1000 + i)
  intents.push(intent.id)
}
const count = async (query: ReturnType<typeof sql<{ n: number }>>): Promise<number> => (await query.execute(owner)).rows[0]?.n ?? 0
await until(async () => await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM wi_links`) === LINKS, 30_000, 'links known to webhook-ingest')

// The load: signed deliveries one after another, as Dojo sends them. Acknowledged (200) ones
// must end up in the store exactly once; refused ones (503 while a dependency is down) would be
// retried by Dojo and are not counted.
const acked = new Map<string, number>()
const outcomes = new Map<string, number>()
const answered: Array<{ at: number, outcome: string }> = []
let sent = 0
let loading = true
const load = (async () => {
  while (loading) {
    const id = `evt_restart_${++sent}`
    const body = JSON.stringify({ id, event: 'payment_intent.status_updated', accountId: 'acc_restart', createdAt: new Date().toISOString(), data: { paymentIntentId: intents[sent % LINKS], paymentStatus: 'Created' } })
    let outcome: string
    try {
      const r = await fetch(`http://127.0.0.1:${ingestPort}/webhooks/dojo/${merchant.id}`, {
        method: 'POST', body, headers: { 'content-type': 'application/json', 'dojo-signature': signWebhookBody(body, secret) }, signal: AbortSignal.timeout(30_000)
      })
      outcome = String(r.status)
      if (r.status === 200 && (await r.json() as { status: string }).status === 'accepted') acked.set(id, Date.now())
      else await r.body?.cancel()
    } catch (error) {
      outcome = (error as Error).name
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    answered.push({ at: Date.now(), outcome })
    await sleep(outcome === '200' ? 20 : 100)
  }
})()
onTeardown(t, async () => { loading = false; await load })

const recordedIds = async (ids: string[]): Promise<number> =>
  await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM es_events WHERE event_id = ANY(${ids.map(webhookEventId)}::uuid[])`)

const tally = (list: Array<{ outcome: string }>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const a of list) out[a.outcome] = (out[a.outcome] ?? 0) + 1
  return out
}

type Reporter = { comment: (message: string) => void, pass: (message: string) => void }

/** While `what` is down: every service says so on /readyz, and deliveries meet the outage. */
async function outage (t: Reporter, what: 'postgres' | 'nats', down: number): Promise<void> {
  const seen = new Map<Service, Readiness>()
  const last = new Map<Service, Readiness>()
  await until(async () => {
    for (const s of names) {
      if (seen.has(s)) continue
      const r = await readiness(s)
      last.set(s, r)
      if (r.status === 503 && r.checks[what] !== undefined && r.checks[what] !== 'ok') seen.set(s, r)
    }
    return seen.size === names.length
  }, { timeoutMs: 30_000, intervalMs: 100, what: `every service reports ${what} down` }).catch((error: Error) => {
    // Say who did not, what it last answered, whether it still runs, and what it logged.
    const silent = names.filter((s) => !seen.has(s)).map((s) => {
      const { child, output } = services[s].process
      // Its errors (an uncaught one says why it exited), then the tail.
      const errors = output().split('\n').filter((l) => /"level":(50|60)/.test(l)).map((l) => l.slice(0, 1200))
      return `${s}: last /readyz ${JSON.stringify(last.get(s))}, exit ${child.exitCode ?? child.signalCode ?? 'none (running)'}, errors:\n${[...errors.slice(0, 3), ...errors.slice(3).slice(-3)].join('\n')}\noutput:\n${output().slice(-1500)}`
    })
    throw new Error(`${error.message}\n${silent.join('\n')}`)
  })
  for (const s of names) t.comment(`${s} /readyz while ${what} is down: 503 ${seen.get(s)!.checks[what]!}`)
  t.pass(`every service reported ${what} down on /readyz`)
  if (what === 'postgres') {
    // Deliveries go on: the endpoint needs only NATS for a link it knows; the store catches up.
    const sentWhileDown = sent
    await until(() => sent >= sentWhileDown + 10, 30_000, 'deliveries during the Postgres outage')
  } else {
    // A delivery cannot be made durable: after the publisher's bounded retries it is refused
    // with a 503 (Dojo retries it), never answered 200 without JetStream's acknowledgement.
    await until(() => answered.some((a) => a.at > down && a.outcome === '503'), 60_000, 'a delivery refused with 503 during the NATS outage')
    t.pass('a delivery during the NATS outage was refused with a 503')
  }
}

/** Stop `what` under load, watch the outage, start it again, and time the recovery. */
async function restart (t: Reporter, what: 'postgres' | 'nats', server: { stop: () => Promise<void>, start: () => Promise<void> }): Promise<void> {
  const before = acked.size
  await until(() => acked.size >= before + 50, 30_000, 'load running')
  await server.stop()
  const down = Date.now()
  try {
    await outage(t, what, down)
  } finally {
    await server.start()
  }
  const up = Date.now()
  t.comment(`${what} was down ${up - down} ms; answers meanwhile: ${JSON.stringify(tally(answered.filter((a) => a.at >= down && a.at <= up)))}`)
  const ready = new Map<Service, number>()
  await until(async () => {
    for (const s of names) if (!ready.has(s) && (await readiness(s)).status === 200) ready.set(s, Date.now() - up)
    return ready.size === names.length
  }, { timeoutMs: 60_000, intervalMs: 100, what: `every service ready after the ${what} restart` })
  t.comment(`ready again after ${what} was back: ${names.map((s) => `${s} ${ready.get(s)!} ms`).join(', ')}`)
  // Throughput is back once a delivery acknowledged after the restart is in the store.
  const firstAfter = await until(() => [...acked].find(([, at]) => at > up)?.[0], 60_000, 'a delivery acknowledged after the restart')
  await until(async () => await recordedIds([firstAfter]) === 1, { timeoutMs: 60_000, intervalMs: 50, what: 'recorded after the restart' })
  t.comment(`throughput back ${Date.now() - up} ms after ${what} was back (acknowledged and recorded)`)
}

t.test('Postgres restarted under load: services report it, reconnect by themselves, and lose nothing acknowledged', async (t) => {
  await restart(t, 'postgres', postgres)
})

t.test('NATS restarted under load (JetStream kept on disk): services report it, reconnect by themselves, and lose nothing acknowledged', async (t) => {
  await restart(t, 'nats', nats)
})

t.test('every acknowledged delivery should be in the store exactly once, confirmed, and projected', async (t) => {
  const more = acked.size
  await until(() => acked.size >= more + 20, 30_000, 'load after both restarts')
  loading = false
  await load
  const ids = [...acked.keys()]
  t.comment(`deliveries: ${sent} sent, ${acked.size} acknowledged; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`)
  await until(async () => await recordedIds(ids) === ids.length, { timeoutMs: 60_000, intervalMs: 200, what: 'every acknowledged delivery recorded' }).catch(() => {})
  t.equal(await recordedIds(ids), ids.length, 'every acknowledged delivery is recorded')
  const twice = await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM (SELECT data->>'dojoEventId' FROM es_events WHERE type = 'payment-link.webhook-received' GROUP BY 1 HAVING count(*) > 1) d`)
  t.equal(twice, 0, 'none twice')
  const gaps = await count(sql<{ n: number }>`SELECT (max(position) - count(*))::int AS n FROM es_events`)
  t.equal(gaps, 0, 'positions without gaps: nothing acked past')
  await until(async () => await count(sql<{ n: number }>`SELECT count(*)::int AS n FROM wi_confirmations`) === 0, { timeoutMs: 60_000, intervalMs: 200, what: 'the confirmation queue drained' })
  const head = await count(sql<{ n: number }>`SELECT coalesce(max(position), 0)::int AS n FROM es_events`)
  await until(async () => await count(sql<{ n: number }>`SELECT coalesce(min(position), 0)::int AS n FROM es_checkpoints WHERE name LIKE 'projection.%' OR name = 'projector.integration' OR name = 'webhook-ingest'`) >= head,
    { timeoutMs: 60_000, intervalMs: 200, what: 'every subscriber caught up with the store' })
  t.pass('the confirmation queue drained and every subscriber (webhook-ingest, projections, integration) reached the head')
  for (const s of names) t.equal(services[s].process.child.exitCode, null, `${s} is still the process it was (no crash, no restart)`)
})
