// pnpm bench — every benchmark, one after another (each measures its own baseline in the same
// run), then one table of all their figures in docs/benchmarks.md with the machine they ran on.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { connect } from '@nats-io/transport-node'
import { TEST_DATABASE_URL, TEST_NATS_URL, type BenchRow } from '@paylinks/test-kit'

const root = join(import.meta.dirname, '..')
const benches = [
  ['store', 'bench:store'],
  ['sandbox', 'bench:sandbox'],
  ['issue', 'bench:issue'],
  ['ingest', 'bench:ingest'],
  ['projections', 'bench:projections'],
  ['dispatch', 'bench:dispatch']
] as const
const only = process.argv.slice(2)

const failed: string[] = []
// The machine is shared (other work, other engineers): the load each benchmark ran under says how
// far its absolute figures can be trusted; only the ratios within one benchmark compare.
const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' / ')
const loads = new Map<string, { before: string, after: string }>()
for (const [name, script] of benches) {
  if (only.length > 0 && !only.includes(name)) continue
  rmSync(join(root, '.bench', `${name}.json`), { force: true })
  console.log(`\n=== pnpm ${script}`)
  const before = load()
  const run = spawnSync('pnpm', ['--silent', script], { cwd: root, stdio: 'inherit' })
  loads.set(name, { before, after: load() })
  if (run.status !== 0 || !existsSync(join(root, '.bench', `${name}.json`))) failed.push(script)
}

const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
await client.connect()
const postgres = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?'
await client.end()
const nc = await connect({ servers: TEST_NATS_URL })
const nats = nc.info?.version ?? '?'
await nc.close()

const cell = (s: string | undefined): string => (s ?? '').replaceAll('|', '\\|')
const lines = [
  '# Benchmarks',
  '',
  `Measured by \`pnpm bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'},`,
  `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, PostgreSQL ${postgres}, nats-server ${nats}.`,
  'Every service, Postgres, NATS and the load generator share this one machine; each ratio is',
  'against a floor or baseline measured in the same run (the durable floor: the same durable work',
  'with the raw libraries and none of the project\'s code, see each bench/floor-server.ts).',
  '',
  `Load average (1 / 5 / 15 min, ${os.cpus().length} cores) at the start and the end of each benchmark:`,
  '',
  '| benchmark | load at start | load at end |',
  '|---|---|---|',
  ...[...loads].map(([name, l]) => `| \`pnpm bench:${name}\` | ${l.before} | ${l.after} |`),
  '',
  '| benchmark | figure | project | floor or baseline (same run) | ratio | target | met |',
  '|---|---|---|---|---|---|---|'
]
for (const [name, script] of benches) {
  const file = join(root, '.bench', `${name}.json`)
  if (!existsSync(file)) {
    lines.push(`| \`pnpm ${script}\` | (did not run or failed) | | | | | |`)
    continue
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as { rows: BenchRow[] }
  for (const r of report.rows) {
    lines.push(`| \`pnpm ${script}\` | ${cell(r.figure)} | ${cell(r.measured)} | ${cell(r.baseline)} | ${cell(r.ratio)} | ${cell(r.target)} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`)
  }
}
mkdirSync(join(root, 'docs'), { recursive: true })
writeFileSync(join(root, 'docs', 'benchmarks.md'), lines.join('\n') + '\n')
console.log(`\nwrote docs/benchmarks.md${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}`)
if (failed.length > 0) process.exitCode = 1
