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
