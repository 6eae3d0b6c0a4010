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

/** A process group to account for: which processes belong to it, by pid and command line. */
export type CpuGroups = Record<string, (process: { pid: number, command: string }) => boolean>

export interface CpuMeter {
  /** CPU seconds (user + system) each group used since the meter started. */
  stop: () => Record<string, number>
}

/** A Node process started with this entry point (spawnService's command line ends with it). */
export const runs = (entry: string): CpuGroups[string] => ({ command }) => command.includes(entry)

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

function readProcesses (): Map<number, { command: string, seconds: number }> {
  const hz = clockTicks()
  const found = new Map<number, { command: string, seconds: number }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(fields[11]) + Number(fields[12])
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
      found.set(Number(name), { command, seconds: ticks / hz })
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

/**
 * Accounts CPU time per group of processes over a measurement, from /proc (Linux; elsewhere
 * every group reads 0). Processes started meanwhile count from zero; ones that ended are lost.
 */
export function startCpuMeter (groups: CpuGroups): CpuMeter {
  const available = process.platform === 'linux'
  const before = available ? readProcesses() : new Map()
  return {
    stop () {
      const after = available ? readProcesses() : new Map<number, { command: string, seconds: number }>()
      const used: Record<string, number> = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]))
      for (const [pid, { command, seconds }] of after) {
        const group = Object.keys(groups).find((g) => groups[g]!({ pid, command }))
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
