import { createServer, type AddressInfo } from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import { onTeardown, type TestContext } from './context.js'

export interface ServiceProcess {
  child: ChildProcess
  /** Everything the process wrote, stdout and stderr. */
  output: () => string
  /** Resolves when a line of output matches. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>
  kill: (signal?: NodeJS.Signals) => Promise<number | string>
}

/**
 * Run a TypeScript entry point through tsx as a real child process; killed at teardown.
 * `nodeArgs` go to node itself (e.g. `--cpu-prof`, which NODE_OPTIONS does not accept).
 */
export function spawnService (t: TestContext, entry: string, env: Record<string, string>, options: { nodeArgs?: string[] } = {}): ServiceProcess {
  const child = spawn(process.execPath, [...options.nodeArgs ?? [], '--import=tsx', entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer): void => {
    output += chunk.toString()
    for (const w of waiters) w()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown') })
  })
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return await exited
  }
  onTeardown(t, async () => { await kill('SIGKILL') })
  return {
    child,
    output: () => output,
    exited,
    kill,
    waitFor: async (pattern, timeoutMs = 30_000) => await new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(output)
        if (match !== null) { cleanup(); resolve(match[0]) }
      }
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no output matching ${String(pattern)} within ${timeoutMs} ms; output:\n${output.slice(-2000)}`)) }, timeoutMs)
      const cleanup = (): void => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
      void exited.then(() => { if (waiters.has(check)) { cleanup(); reject(new Error(`process exited before ${String(pattern)}; output:\n${output.slice(-2000)}`)) } })
      check()
    })
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => { resolve(port) })
    })
  })
}

/** Run a command to its end: its exit code and what it wrote to stdout and stderr. */
export async function runCommand (command: string, args: string[], options: { cwd?: string, env?: Record<string, string> } = {}): Promise<{ code: number, out: string, err: string }> {
  const child = spawn(command, args, { ...(options.cwd === undefined ? {} : { cwd: options.cwd }), env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number>((resolve) => child.on('close', (c) => { resolve(c ?? 1) }))
  return { code, out, err }
}
