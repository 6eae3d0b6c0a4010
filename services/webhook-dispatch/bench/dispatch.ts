// pnpm bench:dispatch — webhook deliveries to a local receiver: deliveries per second (a burst of
// BENCH_LINKS issued links to BENCH_ENDPOINTS endpoints) against raw POSTs to the same receiver at
// the same concurrency in the same run, then event recorded → delivered latency at a steady
// BENCH_RATE links per second for BENCH_SECONDS. The recorder runs as a process; dispatch in this one.
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import pg from 'pg'
import { Agent, request } from 'undici'
import { Webhook } from 'standardwebhooks'
import { sql, type Kysely } from 'kysely'
import { createEventRegistry, domainEvents, paymentLinkStream } from '@paylinks/contracts'
import { createDatabase, DATABASE_ROLES, migrateToLatest } from '@paylinks/event-store'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions } from '@paylinks/messaging'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { eventsStreamEnv, natsTestNames, percent, reportBench, roleUrl, startRecorder, TEST_DATABASE_URL, TEST_NATS_URL, type TestContext } from '@paylinks/test-kit'
import app from '../src/app.js'
import { WebhookDispatchConfigSchema } from '../src/config.js'
import type { DispatchTables } from '../src/tables.js'

const LINKS = Number(process.env.BENCH_LINKS ?? 2000)
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 4)
const RATE = Number(process.env.BENCH_RATE ?? 20)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
const merchantId = 'mer_bench0001'

// Clean-up in reverse order, as the tests do.
const teardowns: Array<() => unknown> = []
const t: TestContext = { teardown: (fn) => { teardowns.push(fn) } }
const name = `bench_wd_${Date.now().toString(36)}`
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
const url = new URL(TEST_DATABASE_URL)
url.pathname = `/${name}`
const pct = (xs: number[], p: number): number => xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!
const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000))

try {
  const owner = createDatabase<DispatchTables>({ connectionString: url.toString(), max: 4 })
  teardowns.push(() => owner.destroy())
  await migrateToLatest(owner)
  const key = randomBytes(32).toString('base64')
  const mdb = owner as unknown as Kysely<MerchantTables>
  await createMerchant(mdb, createSecretBox([key]), { id: merchantId, name: 'bench', dojoSecretKey: 'sk_sandbox_benchkey123', dojoBaseUrl: 'http://127.0.0.1:4010' })
  const apiKey = (await createApiKey(mdb, { merchantId })).key
  const names = natsTestNames(t, 'wdb')
  const env = {
    DATABASE_URL: roleUrl(url.toString(), DATABASE_ROLES.webhookDispatch),
    ...eventsStreamEnv(names),
    SECRETS_ENCRYPTION_KEYS: key,
    WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
    WEBHOOK_CONCURRENCY: String(CONCURRENCY),
    WEBHOOK_ENDPOINT_CONCURRENCY: String(Math.max(1, Math.ceil(CONCURRENCY / ENDPOINTS))),
    DATABASE_POOL_SIZE: process.env.BENCH_POOL ?? '40',
    LOG_LEVEL: 'warn',
    MIGRATE_ON_START: 'false'
  }
  const config = loadConfig(WebhookDispatchConfigSchema, env)
  const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'bench' })
  teardowns.push(() => messaging.close())
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  await startRecorder(t, env)
  const registry = createEventRegistry(domainEvents)
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: names.subjectPrefix, registry })

  // The partner: answers 204 and notes when each webhook-id arrived.
  const receiver = Fastify()
  const arrived = new Map<string, number>()
  const samples: Array<{ body: string, headers: Record<string, string> }> = []
  receiver.addContentTypeParser('application/json', { parseAs: 'string' }, (_r, body, done) => { done(null, body) })
  receiver.post('/hooks/:n', async (req, reply) => {
    const id = String(req.headers['webhook-id'])
    if (!arrived.has(id + req.url)) arrived.set(id + req.url, Date.now())
    if (samples.length < 50) samples.push({ body: req.body as string, headers: { 'webhook-id': id, 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) } })
    return await reply.code(204).send()
  })
  await receiver.listen({ host: '127.0.0.1', port: 0 })
  teardowns.push(() => receiver.close())
  const base = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}`

  // Baseline: raw signed-size POSTs to the same receiver, same concurrency, no database.
  const agent = new Agent({ connections: CONCURRENCY })
  const body = JSON.stringify({ id: randomBytes(16).toString('hex'), type: 'payment_link.issued', version: 1, data: { linkId: 'lnk_x', reference: 'ref', amount: { value: 2599, currencyCode: 'GBP' } } })
  const rawN = LINKS * ENDPOINTS
  let sent = 0
  let started = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < rawN) {
      const i = sent++
      const r = await request(`${base}/hooks/${i % ENDPOINTS}`, { method: 'POST', body, dispatcher: agent, headers: { 'content-type': 'application/json', 'webhook-id': `raw-${i}` } })
      await r.body.dump()
    }
  }))
  const rawRate = rate(rawN, performance.now() - started)
  await agent.close()
  arrived.clear()
  samples.length = 0

  const fastify = Fastify(serverOptions(config, { pretty: false }))
  await fastify.register(app, { config })
  await fastify.ready()
  teardowns.push(() => fastify.close())
  const secrets: string[] = []
  for (let n = 0; n < ENDPOINTS; n++) {
    const res = await fastify.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: { authorization: `Bearer ${apiKey}` }, payload: { url: `${base}/hooks/${n}`, eventTypes: ['payment_link.issued'] } })
    if (res.statusCode !== 201) throw new Error(`endpoint: ${res.statusCode} ${res.body}`)
    secrets.push(res.json().secret)
  }

  const meta = { correlationId: 'bench', producer: 'link-issuer' }
  const issue = async (): Promise<void> => {
    const linkId = `lnk_${randomBytes(12).toString('base64url')}`
    const streamId = paymentLinkStream(linkId)
    await publisher.publish([
      registry.create('payment-link.requested', { linkId, merchantId, reference: `r-${linkId.slice(-10)}`, amount: { value: 2599, currencyCode: 'GBP' }, expiresAt: '2030-01-01T00:00:00.000Z', sendEmail: false, source: 'api' }, { streamId, metadata: meta }),
      registry.create('payment-link.issued', { linkId, merchantId, paymentIntentId: `pi_sandbox_${randomBytes(12).toString('hex')}`, url: 'https://pay.example/x', expiresAt: '2030-01-01T00:00:00.000Z' }, { streamId, metadata: meta })
    ], { expectedLastSubjectSequence: 0 })
  }
  const waitFor = async (n: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (arrived.size < n && Date.now() < deadline) await sleep(20)
    if (arrived.size < n) throw new Error(`only ${arrived.size} of ${n} deliveries arrived`)
  }

  // Burst: every link published at once; deliveries per second from the first to the last.
  started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => { while (next++ < LINKS) await issue() }))
  const published = performance.now()
  await waitFor(LINKS * ENDPOINTS, 300_000)
  const times = [...arrived.values()].sort((a, b) => a - b)
  const burstRate = rate(times.length, times[times.length - 1]! - times[0]!)
  const burstTotal = rate(LINKS * ENDPOINTS, performance.now() - started)
  const verified = samples.filter((s) => secrets.some((secret) => { try { new Webhook(secret).verify(s.body, s.headers); return true } catch { return false } })).length
  console.log(`burst: ${LINKS} links published in ${((published - started) / 1000).toFixed(1)} s; ${verified}/${samples.length} sampled deliveries verified with standardwebhooks`)

  // Steady: RATE links per second; latency from the store's recorded_at to arrival.
  arrived.clear()
  const steadyStart = Date.now()
  let issuedSteady = 0
  while (Date.now() - steadyStart < SECONDS * 1000) {
    const tickStart = Date.now()
    await Promise.all(Array.from({ length: Math.max(1, Math.round(RATE / 10)) }, async () => { await issue(); issuedSteady++ }))
    await sleep(Math.max(0, 100 - (Date.now() - tickStart)))
  }
  await waitFor(issuedSteady * ENDPOINTS, 120_000)
  const recorded = await sql<{ event_id: string, recorded_at: Date, endpoint: string }>`
    SELECT d.message_id AS event_id, e.recorded_at, d.endpoint_id AS endpoint FROM wd_deliveries d JOIN es_events e ON e.event_id::text = d.message_id
    WHERE e.recorded_at >= ${new Date(steadyStart)}`.execute(owner)
  const endpoints = await owner.selectFrom('wd_endpoints').select(['endpoint_id', 'url']).execute()
  const pathOf = new Map(endpoints.map((e) => [e.endpoint_id, new URL(e.url).pathname]))
  const latencies = recorded.rows.map((r) => arrived.get(r.event_id + pathOf.get(r.endpoint)!)! - r.recorded_at.getTime()).filter(Number.isFinite).sort((a, b) => a - b)
  reportBench('dispatch', `bench:dispatch — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; ${ENDPOINTS} endpoints on one local receiver, ${CONCURRENCY} in flight`, [
    { figure: `deliveries/s, burst of ${LINKS} links × ${ENDPOINTS} endpoints (first to last arrival)`, measured: `${burstRate}/s (${burstTotal}/s from the first publish)`, baseline: `${rawRate}/s raw POSTs`, ratio: percent(burstRate, rawRate) },
    { figure: `event recorded → delivered, ${RATE} links/s × ${ENDPOINTS} endpoints for ${SECONDS} s (${latencies.length} deliveries)`, measured: `p50 ${pct(latencies, 0.5)} ms, p99 ${pct(latencies, 0.99)} ms, max ${latencies[latencies.length - 1]} ms`, target: 'p99 < 1000 ms', met: pct(latencies, 0.99) < 1000 }
  ])
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch((e: unknown) => { console.error(e) })
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
