import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined
/** The kernel's clock ticks per second (the unit of /proc's CPU times); 100 on Linux in practice. */
function clockTicks (): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/**
 * A process group to account for: which processes belong to it, by pid, command line and
 * whether it descends from this process (started by this benchmark, not by another on the box).
 */
export type CpuGroups = Record<string, (process: { pid: number, command: string, ours: boolean }) => boolean>

export interface CpuMeter {
  /** CPU seconds (user + system) each group used since the meter started. */
  stop: () => Record<string, number>
}

/**
 * A Node process this benchmark started with this entry point (spawnService's command line ends
 * with it): the same service started by someone else on the machine is not counted.
 */
export const runs = (entry: string): CpuGroups[string] => ({ command, ours }) => ours && command.includes(entry)

/** What sits behind every service in the benchmarks: the recorder, the sandbox, Postgres, NATS, and this process as the load generator. */
export const pipelineCpuGroups: CpuGroups = {
  'event-recorder': runs('event-recorder/src/server.ts'),
  'dojo-sandbox': runs('dojo-sandbox/src/server.ts'),
  postgres: ({ command }) => /^(\S*\/)?postgres(:|\s|$)/.test(command),
  'nats-server': ({ command }) => /^(\S*\/)?nats-server(\s|$)/.test(command),
  'load generator': ({ pid }) => pid === process.pid
}

/** Total CPU seconds of a measurement. */
export const cpuTotal = (used: Record<string, number>): number => Object.values(used).reduce((a, b) => a + b, 0)

interface ProcessTimes { command: string, parent: number, seconds: number }

function readProcesses (): Map<number, ProcessTimes> {
  const hz = clockTicks()
  const found = new Map<number, ProcessTimes>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // Fields after the command's closing parenthesis: the parent is the 2nd, utime and stime the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(fields[11]) + Number(fields[12])
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
      found.set(Number(name), { command, parent: Number(fields[1]), seconds: ticks / hz })
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

/** Whether `pid` is this process or one of its descendants. */
function descendsFromUs (processes: Map<number, ProcessTimes>, pid: number): boolean {
  for (let at = pid, hops = 0; at > 1 && hops < 64; at = processes.get(at)?.parent ?? 0, hops++) {
    if (at === process.pid) return true
  }
  return false
}

/**
 * Accounts CPU time per group of processes over a measurement, from /proc (Linux; elsewhere
 * every group reads 0). Processes started meanwhile count from zero; ones that ended are lost.
 */
export function startCpuMeter (groups: CpuGroups): CpuMeter {
  const available = process.platform === 'linux'
  const before = available ? readProcesses() : new Map<number, ProcessTimes>()
  return {
    stop () {
      const after = available ? readProcesses() : new Map<number, ProcessTimes>()
      const used: Record<string, number> = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]))
      for (const [pid, { command, seconds }] of after) {
        const ours = descendsFromUs(after, pid)
        const group = Object.keys(groups).find((g) => groups[g]!({ pid, command, ours }))
        if (group === undefined) continue
        const start = before.get(pid)
        used[group] = used[group]! + seconds - (start?.command === command ? start.seconds : 0)
      }
      return used
    }
  }
}

/** "webhook-ingest 262 µs, postgres 91 µs, …": CPU per unit of work, largest first. */
export function describeCpu (used: Record<string, number>, units: number, unit: string): string {
  return Object.entries(used).sort((a, b) => b[1] - a[1])
    .map(([group, seconds]) => `${group} ${Math.round(seconds / units * 1e6)} µs`).join(', ') +
    ` per ${unit}; ${Math.round(cpuTotal(used) / units * 1e6)} µs in all`
}
