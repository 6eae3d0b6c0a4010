import { randomBytes } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { createDojoClient, type DojoClient } from '@paylinks/dojo-client'
import { createDatabase, createEventStore, DATABASE_ROLES, type EventStore } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { paymentLinkStream, type Money } from '@paylinks/contracts'
import { connectMessaging, createEventPublisher, type Messaging } from '@paylinks/messaging'
import { eventsStreamEnv, natsTestNames, onTeardown, roleUrl, runCommand, until, type TestContext } from '@paylinks/test-kit'

import { startRecorder, startSandbox } from '@paylinks/test-kit'
export { startRecorder, startSandbox, startSmtp, until, type Mailbox } from '@paylinks/test-kit'
import { admin } from '../src/admin-cli.js'
import app from '../src/app.js'
import { LinkIssuerConfigSchema } from '../src/config.js'
import { registry } from '../src/link.js'

export const ENCRYPTION_KEY = randomBytes(32).toString('base64')

const ADMIN_ENTRY = fileURLToPath(new URL('../src/admin.ts', import.meta.url))

/** `pnpm admin <args>` as a process, with `env` over this process's environment: its exit code and output. */
export async function runAdminProcess (env: Record<string, string>, ...args: string[]): Promise<{ code: number, out: string, err: string }> {
  return await runCommand(process.execPath, ['--import=tsx', ADMIN_ENTRY, ...args], { env })
}

/**
 * `pnpm admin <args>` in this process (the commands the process runs, minus Node's start-up):
 * `env` over this process's environment, output as the process would have written it.
 */
export async function runAdmin (env: Record<string, string>, ...args: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await admin(args, { env: { ...process.env, ...env }, out: (text) => { out += text + '\n' }, err: (text) => { err += text + '\n' } })
  return { code, out, err }
}

/** Environment for link-issuer on this test file's own database (migrated as the owner, used as its own role) and streams. */
export async function issuerEnv (t: TestContext, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const { url } = await createMigratedTestDatabase(t)
  const events = natsTestNames(t, 'ev')
  const orders = natsTestNames(t, 'ord')
  return {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.linkIssuer),
    DATABASE_POOL_SIZE: '5',
    ...eventsStreamEnv(events),
    ORDERS_STREAM: orders.stream,
    ORDERS_SUBJECT_PREFIX: orders.subjectPrefix,
    ORDERS_DURABLE: orders.durable,
    ORDERS_RETRY_DELAY_MS: '50',
    SECRETS_ENCRYPTION_KEYS: ENCRYPTION_KEY,
    PUBLIC_URL: 'http://127.0.0.1:3999',
    DOJO_TIMEOUT_MS: '2000',
    DOJO_RETRY_DELAY_MS: '10',
    RECOVERY_INTERVAL_MS: '0',
    LOG_LEVEL: 'warn',
    PORT: '0',
    ...overrides
  }
}

/** link-issuer in process, with production options; closed at teardown. */
export async function buildIssuer (t: TestContext, env: Record<string, string>): Promise<FastifyInstance> {
  const config = loadConfig(LinkIssuerConfigSchema, env)
  const fastify = Fastify(serverOptions(config, { pretty: false }))
  await fastify.register(app, { config })
  await fastify.ready()
  onTeardown(t, () => fastify.close())
  return fastify
}

export interface TestMerchant {
  id: string
  apiKey: string
  keyId: string
  dojoKey: string
  /** A Dojo client on the merchant's own sandbox account, straight to the sandbox. */
  dojo: DojoClient
}

/** A merchant with its own sandbox account and an API key. */
export async function createTestMerchant (t: TestContext, env: Record<string, string>, dojoUrl: string, sandboxUrl = dojoUrl, extra: { defaultRedirectUrl?: string } = {}): Promise<TestMerchant> {
  const db = createDatabase<MerchantTables>({ connectionString: env.DATABASE_URL!, max: 1 })
  try {
    const dojoKey = `sk_sandbox_${randomBytes(12).toString('base64url')}`
    const merchant = await createMerchant(db, createSecretBox([ENCRYPTION_KEY]), { name: 'Test & Sons <Ltd>', dojoSecretKey: dojoKey, dojoBaseUrl: dojoUrl, ...extra })
    const { key, info } = await createApiKey(db, { merchantId: merchant.id, label: 'test' })
    const dojo = createDojoClient({ baseUrl: sandboxUrl, secretKey: dojoKey, timeoutMs: 5000 })
    onTeardown(t, () => dojo.close())
    return { id: merchant.id, apiKey: key, keyId: info.keyId, dojoKey, dojo }
  } finally {
    await db.destroy()
  }
}

/**
 * Wait until the store has recorded a write link-issuer answered: it answers once JetStream has
 * acknowledged the events (its `Paylinks-Position`), and the recorder records them a moment later.
 */
export async function whenRecorded (store: EventStore, res: { headers: Record<string, unknown> }): Promise<void> {
  const position = Number(res.headers['paylinks-position'])
  if (!(position > 0)) throw new Error(`no paylinks-position on the answer (${String(res.headers['paylinks-position'])})`)
  await store.waitForPosition(position, 10_000)
}

/** Wait until the store has recorded every event the events stream holds now. */
export async function caughtUp (messaging: Messaging, store: EventStore, env: Record<string, string>): Promise<void> {
  const published = (await messaging.jsm.streams.info(env.EVENTS_STREAM!)).state.last_seq
  await store.waitForPosition(published, 20_000)
}

/** A store reader on the test's database. */
export async function openStore (t: TestContext, env: Record<string, string>): Promise<EventStore> {
  const store = await createEventStore({ connectionString: env.DATABASE_URL!, pollIntervalMs: 50 })
  onTeardown(t, () => store.close())
  return store
}

export type Fault = 'pass' | 'slow' | 'fail500' | 'fail400' | 'hold'

export interface FaultyProxy {
  url: string
  /** Creates that reached the proxy so far. */
  creates: () => number
  /** Creates held (`hold`) and not yet released. */
  held: () => number
  /** Forward the oldest `count` held creates (default all) to Dojo now; their callers get Dojo's answer if still listening. */
  release: (count?: number) => void
  /** The fault of creates past the plan (default `pass`). */
  setDefault: (fault: Fault) => void
}

/**
 * A node:http proxy in front of the sandbox. Creates (POST /payment-intents) follow `plan`:
 * `slow` forwards and answers after `slowMs` (the intent exists at Dojo, the caller timed out),
 * `hold` keeps the create from Dojo until `release()` (Dojo has not seen it yet), `fail500`
 * answers 500 without forwarding; everything else passes through.
 */
export async function startFaultyProxy (t: TestContext, target: string, plan: Fault[], slowMs = 3000): Promise<FaultyProxy> {
  let creates = 0
  let fallback: Fault = 'pass'
  const pending = new Set<ServerResponse>()
  const holding: Array<() => void> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const isCreate = req.method === 'POST' && req.url === '/payment-intents'
      const fault: Fault = isCreate ? plan[creates++] ?? fallback : 'pass'
      if (fault === 'hold') {
        pending.add(res)
        holding.push(() => { pending.delete(res); forward('pass') })
        return
      }
      forward(fault)
    })
    function forward (fault: Fault): void {
      if (fault === 'fail400') {
        res.writeHead(400, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'https://tools.ietf.org/html/rfc7231#section-6.5.1', title: 'One or more validation errors occurred.', status: 400, errors: { Reference: ['The Reference field is invalid.'] }, traceId: '00-00000000000000000000000000000000-0000000000000000-01' }))
        return
      }
      if (fault === 'fail500') {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, traceId: '00-00000000000000000000000000000000-0000000000000000-01' }))
        return
      }
      const url = new URL(req.url ?? '/', target)
      const upstream = httpRequest(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
        const body: Buffer[] = []
        up.on('data', (c: Buffer) => body.push(c))
        up.on('end', () => {
          const answer = (): void => { if (!res.destroyed) res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(body)) }
          if (fault === 'slow') {
            pending.add(res)
            setTimeout(() => { pending.delete(res); answer() }, slowMs).unref()
          } else answer()
        })
      })
      upstream.on('error', () => { if (!res.destroyed) res.writeHead(502).end() })
      upstream.end(Buffer.concat(chunks))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => {
    for (const res of pending) res.destroy()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    creates: () => creates,
    held: () => holding.length,
    release: (count) => { for (const go of holding.splice(0, count ?? holding.length)) go() },
    setDefault: (fault) => { fallback = fault }
  }
}

export const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })

/**
 * Every order acked, and every event published so far recorded: an order is acked once JetStream
 * acknowledged its outcome, which is before the recorder has written it to the store.
 */
export async function ordersSettled (messaging: Messaging, store: EventStore, env: Record<string, string>): Promise<void> {
  await until(async () => {
    const info = await messaging.jsm.consumers.info(env.ORDERS_STREAM!, env.ORDERS_DURABLE!)
    return info.num_pending === 0 && info.num_ack_pending === 0
  }, 20_000, 'every order acked')
  await caughtUp(messaging, store, env)
}

/**
 * Record a link's payment as webhook-ingest does once Dojo confirms it (webhook-ingest does not
 * run in link-issuer's tests): Dojo is asked for the intent, and only a `Captured` one gets its
 * `payment-link.status-changed` (issued → paid) published on the link's stream.
 */
export async function paymentRecorder (t: TestContext, env: Record<string, string>, store: EventStore): Promise<(linkId: string, dojo: DojoClient) => Promise<void>> {
  const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'payment-recorder-test' })
  onTeardown(t, () => messaging.close())
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: env.EVENTS_SUBJECT_PREFIX!, registry })
  return async (linkId, dojo) => {
    // As webhook-ingest meets it: the link issued a moment ago, perhaps not recorded yet.
    await caughtUp(messaging, store, env)
    const events = await store.readStream(paymentLinkStream(linkId))
    const issued = events.find((e) => e.type === 'payment-link.issued')
    if (issued === undefined) throw new Error(`${linkId} was never issued`)
    const paymentIntentId = String(issued.data.paymentIntentId)
    const intent = await dojo.getPaymentIntent(paymentIntentId)
    if (intent.status !== 'Captured') throw new Error(`${paymentIntentId} is ${intent.status} at Dojo`)
    const amount = (events[0]!.data as { amount: Money }).amount
    const [ack] = await publisher.publish([registry.create('payment-link.status-changed', {
      linkId, paymentIntentId, from: 'issued', to: 'paid', dojoStatus: 'Captured', amount, capturedAmount: intent.amount.value, refundedAmount: 0, source: 'webhook', observedAt: new Date().toISOString()
    }, { streamId: paymentLinkStream(linkId), metadata: { correlationId: 'payment-recorder-test', producer: 'webhook-ingest' } })], { expectedLastSubjectSequence: events.at(-1)!.position })
    await store.waitForPosition(ack!.seq, 10_000)
  }
}

/** A free port on loopback. */
async function freePort (): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * For browser tests: the sandbox, a recorder, and link-issuer listening on a free loopback port
 * that its PUBLIC_URL names (its short and reusable links' pages are where the browser goes),
 * with a merchant on the sandbox.
 */
export async function startListeningIssuer (t: TestContext): Promise<{ sandbox: Awaited<ReturnType<typeof startSandbox>>, env: Record<string, string>, app: FastifyInstance, merchant: TestMerchant }> {
  const sandbox = await startSandbox(t)
  const port = await freePort()
  const env = await issuerEnv(t, { PUBLIC_URL: `http://127.0.0.1:${port}` })
  await startRecorder(t, env)
  const app = await buildIssuer(t, env)
  await app.listen({ host: '127.0.0.1', port })
  const merchant = await createTestMerchant(t, env, sandbox.url)
  return { sandbox, env, app, merchant }
}
