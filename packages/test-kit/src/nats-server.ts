import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect as connectTcp } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { onTeardown, type TestContext } from './context.js'
import { freePort } from './process.js'

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server'

export interface TestNatsServer {
  /** `nats://127.0.0.1:<port>` */
  url: string
  port: number
  configFile: string
  pid: number
  pidFile: string
  /** Replace the authorization (none: keep it) and have the server reload it (SIGHUP). */
  reload: (authorization?: Authorization) => Promise<void>
  /** Resolves once the server has logged a reload beyond the `count`-th. */
  reloaded: (count: number) => Promise<void>
  /** How many reloads the server has logged. */
  reloads: () => number
  /** Everything the server logged. */
  output: () => string
  /** Stop the server (SIGTERM: a clean shutdown) and wait for it to exit; JetStream's files stay. */
  stop: () => Promise<void>
  /** Start it again on the same port, configuration and JetStream directory. */
  start: () => Promise<void>
}

/** An `authorization { … }` block, or a file holding one (nats-server includes it). */
export type Authorization = string | { include: string }

function serverConfig (port: number, dir: string, authorization: Authorization): string {
  return [
    'host: 127.0.0.1',
    `port: ${port}`,
    `pid_file: ${JSON.stringify(join(dir, 'nats.pid'))}`,
    `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))}, max_memory_store: 64MB, max_file_store: 256MB }`,
    // nats-server resolves an include against the including file's directory, never as absolute.
    typeof authorization === 'string' ? authorization : `include ${JSON.stringify(relative(dir, authorization.include))}`
  ].join('\n')
}

async function portAnswers (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}

/**
 * A nats-server of this test's own, with JetStream in a temporary directory and the given
 * `authorization { … }` block (empty: no authentication), on a free loopback port. Stopped and
 * its directory removed at teardown.
 */
export async function startNatsServer (t: TestContext, options: { authorization: Authorization }): Promise<TestNatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-nats-'))
  onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, serverConfig(port, dir, options.authorization), { mode: 0o600 })
  let output = ''
  let child: ChildProcess
  let exited: Promise<void>
  const launch = async (): Promise<void> => {
    const started = spawn(NATS_SERVER_BIN, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    started.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    started.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    exited = new Promise<void>((resolve) => { started.once('exit', () => { resolve() }) })
    await new Promise<void>((resolve, reject) => {
      started.once('spawn', resolve)
      started.once('error', reject)
    })
    for (let i = 0; !(await portAnswers(port)); i++) {
      if (started.exitCode !== null) throw new Error(`nats-server exited (${started.exitCode}):\n${output}`)
      if (i > 200) throw new Error(`nats-server did not listen on ${port} within 10 s:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  onTeardown(t, async () => { await halt('SIGKILL') })
  await launch()
  const reloads = (): number => (output.match(/Reloaded server configuration/g) ?? []).length
  const reloaded = async (count: number): Promise<void> => {
    for (let i = 0; reloads() <= count; i++) {
      if (i > 200) throw new Error(`nats-server did not reload within 10 s:\n${output.slice(-2000)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    configFile,
    get pid () { return child.pid! },
    output: () => output,
    pidFile: join(dir, 'nats.pid'),
    reloads,
    reloaded,
    stop: async () => { await halt('SIGTERM') },
    start: launch,
    reload: async (authorization) => {
      const before = reloads()
      if (authorization !== undefined) await writeFile(configFile, serverConfig(port, dir, authorization), { mode: 0o600 })
      process.kill(Number((await readFile(join(dir, 'nats.pid'), 'utf8')).trim()), 'SIGHUP')
      await reloaded(before)
    }
  }
}
