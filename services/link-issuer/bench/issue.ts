// Links issued per second through the HTTP API (link-issuer, recorder and sandbox as processes on
// loopback), against the sandbox's own create rate measured in the same run. Bounded in count
// and time; prints a small table. `pnpm bench:issue`
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createDatabase } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { cpuTotal, describeCpu, eventsStreamEnv, freePort, natsTestNames, percent, pipelineCpuGroups, reportBench, runs, spawnService, startCpuMeter, type CpuGroups, type TestContext } from '@paylinks/test-kit'

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000)
const MAX_REQUESTS = 5000
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
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
const processes: CpuGroups = { 'link-issuer': runs('link-issuer/src/server.ts'), ...pipelineCpuGroups }
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
  meter = startCpuMeter(processes)
  const links = await run('link-issuer: POST /v1/payment-links (issued, recorded, readable)', async (i) => {
    const res = await fetch(`${issuerUrl}/v1/payment-links`, { method: 'POST', headers: apiHeaders, body: JSON.stringify({ reference: `bench-${runId}-${i}`, amount }) })
    await res.arrayBuffer()
    if (res.status !== 201) failures++
  })

  const linksCpu = meter.stop()
  await issuer.kill('SIGTERM')
  const ratio = links.perSecond / baseline.perSecond
  reportBench('issue', `bench:issue — loopback, ${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s cap each; sandbox, recorder and link-issuer as processes`, [
    { figure: `links issued through POST /v1/payment-links (${links.count})`, measured: `${links.perSecond.toFixed(0)}/s, p50 ${links.p50.toFixed(1)} ms, p99 ${links.p99.toFixed(1)} ms`, baseline: `${baseline.perSecond.toFixed(0)}/s sandbox POST /payment-intents (p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms)`, ratio: percent(links.perSecond, baseline.perSecond), target: '≥ 60 %', met: ratio >= 0.6 },
    {
      figure: 'CPU per request, all processes',
      measured: `${Math.round(cpuTotal(linksCpu) / links.count * 1e6)} µs per link`,
      baseline: `${Math.round(cpuTotal(baselineCpu) / baseline.count * 1e6)} µs per sandbox create`,
      ratio: `${(cpuTotal(linksCpu) / links.count / (cpuTotal(baselineCpu) / baseline.count)).toFixed(1)} ×`
    },
    { figure: 'requests that failed', measured: String(failures), target: '0', met: failures === 0 }
  ])
  console.log(`\nCPU, sandbox run: ${describeCpu(baselineCpu, baseline.count, 'create')}`)
  console.log(`CPU, links run:   ${describeCpu(linksCpu, links.count, 'link')}`)
} finally {
  while (teardowns.length > 0) await teardowns.pop()!()
}
