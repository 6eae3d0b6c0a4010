// Throughput of the sandbox on loopback: intents created per second over HTTP, and webhook
// deliveries per second to a local receiver, in memory and then keeping its state on disk (the
// baseline is the in-memory run, in the same process). Bounded in count and time.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { percent, reportBench } from '@paylinks/test-kit'
import { app } from '../src/app.js'
import { SandboxConfigSchema, sandboxOptions } from '../src/config.js'

const DURATION_MS = 3000
const MAX_REQUESTS = 20_000
const CONCURRENCY = 32
const KEY = 'sk_sandbox_bench'

const config = loadConfig(SandboxConfigSchema, { LOG_LEVEL: 'silent', WEBHOOK_RETRY_DELAYS_MS: '100', WEBHOOK_TIMEOUT_MS: '2000' })
const headers = { authorization: `Basic ${KEY}`, version: '2026-02-27', 'content-type': 'application/json' }

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

interface Figure { label: string, count: number, perSecond: number, p50: number, p99: number }

async function run (label: string, op: () => Promise<number>): Promise<Figure> {
  const latencies: number[] = []
  const started = performance.now()
  let issued = 0
  const worker = async (): Promise<void> => {
    while (issued < MAX_REQUESTS && performance.now() - started < DURATION_MS) {
      issued++
      latencies.push(await op())
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { label, count: latencies.length, perSecond: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

// One sandbox, in memory or keeping its state on disk (SANDBOX_STATE_DIR): creates over HTTP,
// then deliveries to a receiver on loopback (each created intent sends one
// payment_intent.created; latency from the sandbox's delivery log, send to 2xx).
async function measure (stateDir: string): Promise<{ created: Figure, deliveries: Figure, undelivered: number }> {
  const server = Fastify(serverOptions(config, { pretty: false }))
  await server.register(app, { ...sandboxOptions(config), stateDir })
  await server.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`
  const body = JSON.stringify({ amount: { value: 1050, currencyCode: 'GBP' }, reference: 'bench' })
  const created = await run('create intent (POST /payment-intents)', async () => {
    const t0 = performance.now()
    const res = await fetch(`${base}/payment-intents`, { method: 'POST', headers, body })
    if (res.status !== 200) throw new Error(`create: ${res.status}`)
    await res.arrayBuffer()
    return performance.now() - t0
  })
  const receiver = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()) })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`
  const sub = await (await fetch(`${base}/webhooks`, { method: 'POST', headers, body: JSON.stringify({ events: ['payment_intent.created'], url: hookUrl }) })).json() as { id: string }
  const deliveryStart = performance.now()
  let n = 0
  while (n < 5000 && performance.now() - deliveryStart < DURATION_MS) {
    server.sandbox.createIntent(KEY, { amount: { value: 100, currencyCode: 'GBP' }, reference: 'bench' })
    server.sandbox.flush()
    n++
    if (n % 200 === 0) await server.sandbox.webhooks.idle()
  }
  await server.sandbox.webhooks.idle()
  const deliverySeconds = (performance.now() - deliveryStart) / 1000
  const log = server.sandbox.webhooks.deliveries(sub.id)
  const delivered = log.filter((d) => d.status === 'delivered')
  const deliveryLatencies = delivered.map((d) => d.attempts.at(-1)!.latencyMs).sort((a, b) => a - b)
  const deliveries = { label: 'webhook delivery (signed POST to loopback)', count: delivered.length, perSecond: delivered.length / deliverySeconds, p50: percentile(deliveryLatencies, 0.5), p99: percentile(deliveryLatencies, 0.99) }
  await server.close()
  await new Promise<void>((resolve) => { receiver.closeAllConnections(); receiver.close(() => resolve()) })
  return { created, deliveries, undelivered: log.length - delivered.length }
}

const describe = (f: Figure): string => `${f.perSecond.toFixed(0)}/s, median ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms`
const dir = mkdtempSync(join(tmpdir(), 'sandbox-bench-'))
try {
  // A first round warms the JIT and the connection pool, so neither side pays for it.
  await measure('')
  const memory = await measure('')
  const disk = await measure(dir)
  const rows = (['created', 'deliveries'] as const).flatMap((k) => [
    { figure: `${memory[k].label}, in memory (${memory[k].count})`, measured: describe(memory[k]) },
    { figure: `${disk[k].label}, state on disk (${disk[k].count})`, measured: describe(disk[k]), baseline: `${memory[k].perSecond.toFixed(0)}/s in memory`, ratio: percent(disk[k].perSecond, memory[k].perSecond) }
  ])
  reportBench('sandbox', `bench:sandbox — loopback, ${CONCURRENCY} concurrent clients for creates, ${DURATION_MS / 1000} s cap each; in memory, then with SANDBOX_STATE_DIR`, rows)
  for (const [name, m] of [['in memory', memory], ['on disk', disk]] as const) if (m.undelivered > 0) console.log(`(${name}: ${m.undelivered} deliveries not delivered)`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
