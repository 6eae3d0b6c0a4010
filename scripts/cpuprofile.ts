// tsx scripts/cpuprofile.ts <file.cpuprofile> [top] [from..to] — self time of a V8 CPU profile
// (what BENCH_PROFILE writes) by package and by function, largest first: where a benchmark's CPU
// went, without opening DevTools. Idle time is shown apart, and shares are of the busy time.
// from..to (µs, the profile's clock, as a bench prints its "profile window") keeps only the
// samples in that window: one phase of a benchmark, not the process's whole life.
import { readFileSync } from 'node:fs'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], startTime: number, samples: number[], timeDeltas: number[] }

const [file, topArg, windowArg] = process.argv.slice(2)
const window = windowArg === undefined ? undefined : /^(\d+)\.\.(\d+)$/.exec(windowArg)
if (file === undefined || window === null) {
  console.error('usage: tsx scripts/cpuprofile.ts <file.cpuprofile> [top] [from..to µs]')
  process.exit(2)
}
const [from, to] = window === undefined ? [-Infinity, Infinity] : [Number(window[1]), Number(window[2])]
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))

/** node_modules/<package> (scoped too), a workspace folder, node: internals, or V8's own entries. */
function packageOf (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  const workspace = /\/((?:packages|services|scripts)\/[^/]+)\//.exec(url)
  return workspace?.[1] ?? url
}

const self = new Map<number, number>()
let at = profile.startTime
let kept = 0
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0
  at += delta
  if (at < from || at > to) continue
  const id = profile.samples[i]!
  self.set(id, (self.get(id) ?? 0) + delta)
  kept++
}
const packages = new Map<string, number>()
const functions = new Map<string, number>()
let idle = 0
let busy = 0
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id)!
  if (f.functionName === '(idle)') { idle += us; continue }
  busy += us
  const pkg = packageOf(f.url, f.functionName)
  packages.set(pkg, (packages.get(pkg) ?? 0) + us)
  const where = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(node_modules|packages|services)\//, '$1/')}:${f.lineNumber + 1}`
  const key = `${f.functionName || '(anonymous)'}${where}`
  functions.set(key, (functions.get(key) ?? 0) + us)
}
const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7)
const share = (us: number): string => `${(100 * us / busy).toFixed(1).padStart(5)} %`
console.log(`busy ${ms(busy)} ms, idle ${ms(idle)} ms (${kept} samples${window === undefined ? '' : ` in ${windowArg}`})\n\nself time by package`)
for (const [name, us] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ms ${share(us)}  ${name}`)
console.log('\nself time by function')
for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ms ${share(us)}  ${name}`)
