import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** One figure a benchmark measured, next to the baseline measured in the same run. */
export interface BenchRow {
  figure: string
  measured: string
  baseline?: string
  /** measured / baseline, as a percentage string ("73 %"). */
  ratio?: string
  target?: string
  /** Whether the target was met; absent when there is no target. */
  met?: boolean
}

const folder = fileURLToPath(new URL('../../../.bench/', import.meta.url))

/**
 * Print a benchmark's figures as a table and keep them in `.bench/<name>.json`, where
 * `pnpm bench` gathers every benchmark into docs/benchmarks.md.
 */
export function reportBench (name: string, title: string, rows: BenchRow[]): void {
  const header = ['figure', 'measured', 'baseline (same run)', 'ratio', 'target', 'met']
  const cells = rows.map((r) => [r.figure, r.measured, r.baseline ?? '', r.ratio ?? '', r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO'])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  console.log(`\n${title}\n`)
  for (const row of [header, widths.map((w) => '-'.repeat(w)), ...cells]) console.log(`| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`)
  mkdirSync(folder, { recursive: true })
  writeFileSync(`${folder}${name}.json`, JSON.stringify({ name, title, at: new Date().toISOString(), rows }, null, 2))
}

/** "73 %" for a ratio of two rates. */
export const percent = (measured: number, baseline: number): string => `${Math.round(100 * measured / baseline)} %`

/** Latency at a fixed offered rate: what a caller waited, from when its request was due. */
export interface OpenLoopResult {
  rate: number
  sent: number
  failed: number
  /** Requests actually completed per second over the run. */
  achieved: number
  p50: number
  p99: number
  max: number
}

/**
 * Open-loop load: `rate` requests per second for `durationMs`, each started when it is due
 * whether or not earlier ones have answered (a closed loop would wait, and hide the queueing a
 * slow server causes). Latency counts from the due time, so a request the generator itself sent
 * late still counts the wait. `op` resolves true when the request succeeded.
 */
export async function openLoop (options: { rate: number, durationMs: number, op: (i: number) => Promise<boolean> }): Promise<OpenLoopResult> {
  const { rate, durationMs, op } = options
  const latencies: number[] = []
  const pending: Array<Promise<void>> = []
  let failed = 0
  const started = performance.now()
  const total = Math.floor(rate * durationMs / 1000)
  let next = 0
  while (next < total) {
    const now = performance.now()
    const due = Math.min(total, Math.floor((now - started) * rate / 1000) + 1)
    for (; next < due; next++) {
      const dueAt = started + next * 1000 / rate
      const i = next
      pending.push(op(i).then((ok) => { if (!ok) failed++ }, () => { failed++ }).finally(() => { latencies.push(performance.now() - dueAt) }))
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(pending)
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN
  return { rate, sent: total, failed, achieved: (total - failed) / seconds, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN }
}

/** "p50 3.1 ms, p99 12.0 ms, max 40.2 ms at 1000/s (0 failed)". */
export const describeOpenLoop = (r: OpenLoopResult): string =>
  `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms at ${r.rate}/s (${r.failed} failed)`
