// Links issued per second through the HTTP API (link-issuer, recorder and sandbox as processes on
// loopback), against its durable floor (bench/floor-server.ts: publish requested, create the
// intent, publish issued, answer; test-kit's floor recorder batching both into Postgres) and the
// sandbox's own create rate, all measured in the same run; then latency at a fixed offered rate
// (open loop, BENCH_RATE, default 200/s) for the floor and the project. Bounded in count and
// time; prints a small table. `pnpm bench:issue`
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { createDatabase } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import {
  cpuTotal, describeCpu, describeOpenLoop, eventsStreamEnv, FLOOR_RECORDER_ENTRY, floorCpuGroups, freePort, natsTestNames, openLoop, percent, pipelineCpuGroups, reportBench, runs,
  spawnService, startCpuMeter, uniqueSuffix, type CpuGroups, type TestContext
} from '@paylinks/test-kit'
import { sql } from 'kysely'

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000)
const MAX_REQUESTS = 5000
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
const RATE = Number(process.env.BENCH_RATE ?? 200)
const OPEN_LOOP_MS = Number(process.env.BENCH_OPEN_LOOP_MS ?? 8000)
const entry = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

const teardowns: Array<() => unknown> = []
const ctx: TestContext = { teardown: (fn) => { teardowns.push(fn) }, name: 'bench' }

async function healthy (url: string, what: string, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not start: ${output().slice(-2000)}`)
}
// Where the CPU goes during each run: every process here shares this machine's cores.
const processes: CpuGroups = { 'link-issuer': runs('link-issuer/src/server.ts'), ...floorCpuGroups, ...pipelineCpuGroups }
/**
 * POSTs for the fixed-rate runs: undici's own request over a keep-alive pool (what global fetch is
 * built on, without its WHATWG streams and Request/Response objects). The sender shares the two
 * cores with everything it measures and its own delays count as latency from the due time, so it
 * must be cheap; the floor and link-issuer get the same sender. The closed-loop runs keep fetch.
 */
function sender (origin: string, headers: Record<string, string>): { post: (path: string, body: string) => Promise<number>, close: () => Promise<void> } {
  const pool = new Pool(origin, { connections: 64 })
  return {
    post: async (path, body) => {
      const res = await pool.request({ path, method: 'POST', body, headers })
      await res.body.dump()
      return res.statusCode
    },
    close: async () => { await pool.close() }
  }
}
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

async function run (label: string, op: (i: number) => Promise<void>): Promise<{ label: string, count: number, perSecond: number, p50: number, p99: number }> {
  const latencies: number[] = []
  const started = performance.now()
  let issued = 0
  const worker = async (): Promise<void> => {
    while (issued < MAX_REQUESTS && performance.now() - started < DURATION_MS) {
      const i = issued++
      const t0 = performance.now()
      await op(i)
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { label, count: latencies.length, perSecond: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

try {
  const sandboxPort = await freePort()
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`
  const sandbox = spawnService(ctx, entry('../../dojo-sandbox/src/server.ts'), { PORT: String(sandboxPort), HOST: '127.0.0.1', PUBLIC_URL: sandboxUrl, LOG_LEVEL: 'warn' })
  const { url: databaseUrl } = await createMigratedTestDatabase(ctx)
  const events = natsTestNames(ctx, 'bev')
  const orders = natsTestNames(ctx, 'bord')
  const key = randomBytes(32).toString('base64')
  const shared = { DATABASE_URL: databaseUrl, ...eventsStreamEnv(events) }
  const recorder = spawnService(ctx, entry('../../event-recorder/src/server.ts'), { ...shared, LOG_LEVEL: 'info', LOG_FORMAT: 'json', PORT: '0' })
  await recorder.waitFor(/"msg":"recording"/)
  const issuerPort = await freePort()
  const issuerUrl = `http://127.0.0.1:${issuerPort}`
  const issuer = spawnService(ctx, entry('../src/server.ts'), {
    ...shared,
    ORDERS_STREAM: orders.stream,
    ORDERS_SUBJECT_PREFIX: orders.subjectPrefix,
    ORDERS_DURABLE: orders.durable,
    SECRETS_ENCRYPTION_KEYS: key,
    PUBLIC_URL: issuerUrl,
    PORT: String(issuerPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    RATE_LIMIT_MAX: '1000000',
    MIGRATE_ON_START: 'false'
  // BENCH_PROFILE=<dir> writes a CPU profile of link-issuer there (written when it stops).
  }, process.env.BENCH_PROFILE === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] })
  await healthy(sandboxUrl, 'dojo-sandbox', sandbox.output)
  await healthy(issuerUrl, 'link-issuer', issuer.output)

  const db = createDatabase<MerchantTables>({ connectionString: databaseUrl, max: 1 })
  const merchant = await createMerchant(db, createSecretBox([key]), { name: 'Bench', dojoSecretKey: `sk_sandbox_${randomBytes(9).toString('base64url')}`, dojoBaseUrl: sandboxUrl })
  const { key: apiKey } = await createApiKey(db, { merchantId: merchant.id })
  await db.destroy()

  const dojoHeaders = { authorization: `Basic sk_sandbox_${randomBytes(9).toString('base64url')}`, version: '2026-02-27', 'content-type': 'application/json' }
  const apiHeaders = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }
  const amount = { value: 1050, currencyCode: 'GBP' }
  const runId = Date.now().toString(36)
  let failures = 0

  // Warm both paths (JIT, pools, connections) before measuring.
  for (let i = 0; i < 50; i++) {
    await fetch(`${sandboxUrl}/payment-intents`, { method: 'POST', headers: dojoHeaders, body: JSON.stringify({ amount, reference: `warm-${i}` }) }).then(async (r) => await r.arrayBuffer())
    await fetch(`${issuerUrl}/v1/payment-links`, { method: 'POST', headers: apiHeaders, body: JSON.stringify({ reference: `warm-${runId}-${i}`, amount }) }).then(async (r) => await r.arrayBuffer())
  }

  let meter = startCpuMeter(processes)
  const baseline = await run('sandbox: POST /payment-intents (baseline)', async (i) => {
    const res = await fetch(`${sandboxUrl}/payment-intents`, { method: 'POST', headers: dojoHeaders, body: JSON.stringify({ amount, reference: `base-${i}`, paymentSource: 'payment-links' }) })
    await res.arrayBuffer()
    if (res.status !== 200) failures++
  })
  const baselineCpu = meter.stop()

  // The durable floor: the same durable work with nothing else (a stream and a table of its own).
  const floorNames = natsTestNames(ctx, 'fli')
  const floorTable = `floor_${uniqueSuffix()}`
  const floorPort = await freePort()
  const floorUrl = `http://127.0.0.1:${floorPort}`
  const floorKey = randomBytes(12).toString('base64url')
  const floor = spawnService(ctx, entry('./floor-server.ts'), {
    PORT: String(floorPort), NATS_URL: shared.NATS_URL, FLOOR_STREAM: floorNames.stream, FLOOR_SUBJECT_PREFIX: floorNames.subjectPrefix, API_KEY: floorKey, DOJO_URL: sandboxUrl, DOJO_KEY: dojoHeaders.authorization.slice('Basic '.length)
  })
  await floor.waitFor(/floor listening/)
  // After the server: it declares the stream.
  const floorRecorder = spawnService(ctx, FLOOR_RECORDER_ENTRY, { DATABASE_URL: databaseUrl, NATS_URL: shared.NATS_URL, FLOOR_STREAM: floorNames.stream, FLOOR_TABLE: floorTable })
  await floorRecorder.waitFor(/floor recorder ready/)
  const floorHeaders = { authorization: `Bearer ${floorKey}`, 'content-type': 'application/json' }
  const createAtFloor = async (reference: string): Promise<boolean> => {
    const res = await fetch(`${floorUrl}/v1/payment-links`, { method: 'POST', headers: floorHeaders, body: JSON.stringify({ reference, amount }) })
    await res.arrayBuffer()
    return res.status === 201
  }
  for (let i = 0; i < 50; i++) await createAtFloor(`warm-floor-${i}`)
  const floorSender = sender(floorUrl, floorHeaders)
  const floorOpen = await openLoop({ rate: RATE, durationMs: OPEN_LOOP_MS, op: async (i) => await floorSender.post('/v1/payment-links', JSON.stringify({ reference: `floor-open-${runId}-${i}`, amount })) === 201 })
  await floorSender.close()
  meter = startCpuMeter(processes)
  const floorRun = await run('durable floor: POST /v1/payment-links', async (i) => {
    if (!(await createAtFloor(`floor-${runId}-${i}`))) failures++
  })
  const floorCpu = meter.stop()
  await floor.kill('SIGTERM')
  const ownerDb = createDatabase({ connectionString: databaseUrl, max: 1 })
  ctx.teardown(async () => { await ownerDb.destroy() })
  // Two messages per link: requested and issued.
  const floorExpected = 2 * (floorRun.count + floorOpen.sent - floorOpen.failed + 50)
  const floorRows = async (): Promise<number> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(floorTable)}`.execute(ownerDb)).rows[0]!.n
  for (let i = 0; i < 600 && await floorRows() < floorExpected; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  const floorRecorded = await floorRows()
  await floorRecorder.kill('SIGTERM')
  await sql`DROP TABLE IF EXISTS ${sql.table(floorTable)}`.execute(ownerDb)

  const linkSender = sender(issuerUrl, apiHeaders)
  const linksOpen = await openLoop({ rate: RATE, durationMs: OPEN_LOOP_MS, op: async (i) => await linkSender.post('/v1/payment-links', JSON.stringify({ reference: `open-${runId}-${i}`, amount })) === 201 })
  await linkSender.close()
  meter = startCpuMeter(processes)
  const links = await run('link-issuer: POST /v1/payment-links (issued, recorded, readable)', async (i) => {
    const res = await fetch(`${issuerUrl}/v1/payment-links`, { method: 'POST', headers: apiHeaders, body: JSON.stringify({ reference: `bench-${runId}-${i}`, amount }) })
    await res.arrayBuffer()
    if (res.status !== 201) failures++
  })

  const linksCpu = meter.stop()
  await issuer.kill('SIGTERM')
  const perOp = (used: Record<string, number>, n: number): number => cpuTotal(used) / Math.max(1, n) * 1e6
  const linkPerOp = perOp(linksCpu, links.count)
  const floorPerOp = perOp(floorCpu, floorRun.count)
  const issuerAlone = (linksCpu['link-issuer'] ?? 0) / Math.max(1, links.count) * 1e6
  const floorFront = (floorCpu['floor server'] ?? 0) / Math.max(1, floorRun.count) * 1e6
  reportBench('issue', `bench:issue — loopback, ${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s cap each; sandbox, recorder and link-issuer as processes`, [
    { figure: `links issued through POST /v1/payment-links (${links.count})`, measured: `${links.perSecond.toFixed(0)}/s, p50 ${links.p50.toFixed(1)} ms, p99 ${links.p99.toFixed(1)} ms`, baseline: `${floorRun.perSecond.toFixed(0)}/s durable floor (p50 ${floorRun.p50.toFixed(1)} ms, p99 ${floorRun.p99.toFixed(1)} ms)`, ratio: percent(links.perSecond, floorRun.perSecond) },
    { figure: 'links issued (continuity)', measured: `${links.perSecond.toFixed(0)}/s`, baseline: `${baseline.perSecond.toFixed(0)}/s sandbox POST /payment-intents (p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms)`, ratio: percent(links.perSecond, baseline.perSecond) },
    { figure: 'CPU per link vs the durable floor, all processes', measured: `${Math.round(linkPerOp)} µs`, baseline: `${Math.round(floorPerOp)} µs floor`, ratio: `${(linkPerOp / floorPerOp).toFixed(2)} ×`, target: '≤ 1.5 ×', met: linkPerOp <= 1.5 * floorPerOp },
    // The target is absolute; the floor server's own share (publish, create at the sandbox,
    // publish, answer) beside it says how fast this machine was in this run.
    { figure: 'CPU per link, link-issuer alone', measured: `${Math.round(issuerAlone)} µs`, baseline: `${Math.round(floorFront)} µs floor server alone`, ratio: `${(issuerAlone / floorFront).toFixed(2)} ×`, target: '≤ 800 µs', met: issuerAlone <= 800 },
    { figure: `latency at ${RATE}/s offered (open loop)`, measured: describeOpenLoop(linksOpen), baseline: `floor ${describeOpenLoop(floorOpen)}`, target: 'p99 < 50 ms', met: linksOpen.p99 < 50 && linksOpen.failed === 0 },
    { figure: 'floor messages recorded', measured: `${floorRecorded} of ${floorExpected}`, target: 'all', met: floorRecorded >= floorExpected },
    {
      figure: 'CPU per request vs a sandbox create, all processes (continuity)',
      measured: `${Math.round(cpuTotal(linksCpu) / links.count * 1e6)} µs per link`,
      baseline: `${Math.round(cpuTotal(baselineCpu) / baseline.count * 1e6)} µs per sandbox create`,
      ratio: `${(cpuTotal(linksCpu) / links.count / (cpuTotal(baselineCpu) / baseline.count)).toFixed(1)} ×`
    },
    { figure: 'requests that failed', measured: String(failures), target: '0', met: failures === 0 }
  ])
  console.log(`\nCPU, sandbox run: ${describeCpu(baselineCpu, baseline.count, 'create')}`)
  console.log(`CPU, floor run:   ${describeCpu(floorCpu, floorRun.count, 'link')}`)
  console.log(`CPU, links run:   ${describeCpu(linksCpu, links.count, 'link')}`)
} finally {
  while (teardowns.length > 0) await teardowns.pop()!()
}
