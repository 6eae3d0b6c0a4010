// Runs every test file with tap in passes and ends with one line: `N passed, N failed`.
//
// 1. The parallel pass: most files, three at a time.
// 2. Files named `*.heavy.test.ts` run many processes, browsers or SIGKILLs on the shared
//    servers (whole-system tests, crash tests): two at a time, after the parallel pass, so their
//    timing-sensitive steps do not share two cores with everything else. Beside them, one at a
//    time, files named `*.isolated.test.ts`, which start Postgres and nats-servers of their own
//    (the soak, infrastructure restarts): nothing they do reaches the shared servers.
// 3. Files named `*.serial.test.ts` hold transactions open, freeze a process in its session or assert
//    on commit visibility; the snapshot horizon is cluster-wide, so they run last, alone.
// Usage: pnpm test [path-fragment …]   (only files whose path contains a fragment)
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { createInterface } from 'node:readline'

const root = join(import.meta.dirname, '..')
const roots = ['packages', 'services', 'test']
const filters = process.argv.slice(2)

function findTests (dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) findTests(path, out)
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

const files = roots.filter((r) => existsSync(join(root, r))).flatMap((r) => findTests(join(root, r))).filter((f) => /(^|\/)test\//.test(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort()
const lanes = ['.heavy.test.ts', '.isolated.test.ts', '.serial.test.ts']
const parallel = files.filter((f) => !lanes.some((lane) => f.endsWith(lane)))
const heavy = files.filter((f) => f.endsWith('.heavy.test.ts'))
const isolated = files.filter((f) => f.endsWith('.isolated.test.ts'))
const serial = files.filter((f) => f.endsWith('.serial.test.ts'))

mkdirSync(join(root, '.tap'), { recursive: true })
const log = createWriteStream(join(root, '.tap', 'last-run.tap'))
const totals = { passed: 0, failed: 0, skipped: 0 }

/**
 * tap compiles its plugin set into its installed files (.taprc swaps its typescript plugin for
 * tsx), lazily and one run late: the first run after an install would load both loaders. Build
 * it first when the built set is not ours; only then, since a build under a running suite
 * breaks it.
 */
async function ensureTapBuilt (): Promise<void> {
  const tapTest = dirname(createRequire(realpathSync(join(root, 'node_modules', 'tap', 'package.json'))).resolve('@tapjs/test/package.json'))
  const built = join(tapTest, 'test-built', 'src', 'index.ts')
  const ours = existsSync(built) && !readFileSync(built, 'utf8').includes('@tapjs/typescript') && existsSync(join(tapTest, 'test-built', 'dist', 'esm', 'index.js'))
  if (ours) return
  await runLocked('.tap-build-lock', join(root, 'node_modules', '.bin', 'tap'), ['build'], root)
}

/** Run a build command while holding a lock directory: two runs in one checkout must not build at once. */
async function runLocked (lockName: string, command: string, args: string[], cwd: string): Promise<number> {
  const lock = join(root, 'node_modules', lockName)
  for (;;) {
    try { mkdirSync(lock); break } catch { await new Promise((resolve) => setTimeout(resolve, 200)) }
  }
  try {
    const build = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] })
    return await new Promise<number>((resolve) => build.on('close', (code) => resolve(code ?? 1)))
  } finally {
    rmdirSync(lock)
  }
}

function newestMtime (path: string): number {
  if (!existsSync(path)) return 0
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  return Math.max(s.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))))
}

/**
 * The console serves its web app from a Vite build (services/console/web/dist): build it when it
 * is missing or older than its sources, so browser tests see the pages as the sources say.
 */
async function ensureConsoleWebBuilt (): Promise<void> {
  const web = join(root, 'services', 'console', 'web')
  if (!existsSync(join(web, 'package.json'))) return
  const sources = Math.max(...['src', 'index.html', 'vite.config.ts', 'package.json'].map((p) => newestMtime(join(web, p))))
  if (newestMtime(join(web, 'dist', 'index.html')) >= sources) return
  const code = await runLocked('.console-web-build-lock', join(web, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], web)
  if (code !== 0) throw new Error('the console web app did not build (pnpm --filter @paylinks/console-web build)')
}

async function pass (label: string, list: string[], jobs: number): Promise<void> {
  if (list.length === 0) return
  const started = performance.now()
  console.log(`\n# ${label}: ${list.length} files, ${jobs} at a time`)
  const child = spawn(join(root, 'node_modules', '.bin', 'tap'), ['--reporter=tap', `--jobs=${jobs}`, ...list], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  let failedBlock = 0
  let fileFailedWithoutTests = false
  let subtestsSeen = 0
  for await (const line of createInterface({ input: child.stdout })) {
    log.write(line + '\n')
    const sub = /^ {4}(not ok|ok) \d+ - (.*)$/.exec(line)
    const top = /^(not ok|ok) \d+ - (\S+)(?:.*# time=([\d.]+)ms)?/.exec(line)
    if (sub !== null) {
      subtestsSeen++
      if (/# SKIP/i.test(sub[2]!)) totals.skipped++
      else if (sub[1] === 'ok') totals.passed++
      else { totals.failed++; failedBlock = 40 }
    } else if (top !== null) {
      // A file that failed without a failing test (crash, timeout, exit code) is one failure.
      fileFailedWithoutTests = top[1] === 'not ok' && subtestsSeen === 0
      if (fileFailedWithoutTests) { totals.failed++; failedBlock = 40 }
      console.log(`${top[1] === 'ok' ? 'ok    ' : 'FAILED'} ${top[2]}${top[3] === undefined ? '' : ` (${(Number(top[3]) / 1000).toFixed(1)} s)`}`)
      subtestsSeen = 0
      continue
    } else if (/^ {4}# Subtest/.test(line) || /^# Subtest/.test(line)) {
      if (/^# Subtest/.test(line)) subtestsSeen = 0
    }
    if (failedBlock > 0 || /not ok/.test(line)) {
      console.log(line)
      failedBlock = Math.max(0, failedBlock - 1)
    }
  }
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  if (code !== 0 && totals.failed === 0) totals.failed++
  console.log(`# ${label}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

await ensureTapBuilt()
await ensureConsoleWebBuilt()
await pass('parallel pass', parallel, 3)
await Promise.all([pass('heavy pass', heavy, 2), pass('isolated, beside the heavy pass', isolated, 1)])
await pass('serial pass', serial, 1)
log.end()
console.log('\nfull TAP output: .tap/last-run.tap')
// Skips on a line of their own: the last line is exactly `N passed, N failed`, which CI reads.
if (totals.skipped > 0) console.log(`${totals.skipped} skipped (not counted below)`)
console.log(`${totals.passed} passed, ${totals.failed} failed`)
process.exitCode = totals.failed > 0 || files.length === 0 ? 1 : 0
