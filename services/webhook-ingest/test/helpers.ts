import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { createEventRegistry, domainEvents, paymentLinkStream, type RecordedEvent } from '@paylinks/contracts'
import { createDojoClient, type DojoClient } from '@paylinks/dojo-client'
import { createDatabase, createEventStore, DATABASE_ROLES, type EventStore } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createMerchant, createSecretBox, type Merchant, type MerchantTables } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, type EventPublisher, type Messaging } from '@paylinks/messaging'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { eventsStreamEnv, natsTestNames, onTeardown, roleUrl, startSandbox as startSandboxProcess, type SandboxProcess, type TestContext } from '@paylinks/test-kit'

export { startRecorder, until } from '@paylinks/test-kit'
import app, { type WebhookIngest } from '../src/app.js'
import { IngestConfigSchema } from '../src/config.js'
import type { Tables } from '../src/tables.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const INGEST_ENTRY = `${ROOT}services/webhook-ingest/src/server.ts`
export const registry = createEventRegistry(domainEvents)

/** Environment for webhook-ingest (and a recorder) on this test file's own database (migrated as the owner, used as webhook-ingest's role) and stream. */
export async function ingestEnv (t: TestContext, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const { url } = await createMigratedTestDatabase(t)
  const names = natsTestNames(t, 'wi')
  return {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.webhookIngest),
    DATABASE_POOL_SIZE: '5',
    ...eventsStreamEnv(names),
    RECORDER_STANDBY_POLL_MS: '50',
    RECORDER_RETRY_DELAY_MS: '50',
    SECRETS_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    PORT: '0',
    SUBSCRIPTION_SYNC_ON_START: 'false',
    CONFIRM_POLL_MS: '50',
    CONFIRM_RETRY_BASE_MS: '100',
    CONFIRM_RETRY_MAX_MS: '500',
    DOJO_TIMEOUT_MS: '2000',
    DOJO_RETRIES: '1',
    RECONCILE_INTERVAL_MS: '3600000',
    RECONCILE_QUIET_AFTER_MS: '3600000',
    ...overrides
  }
}

/** dojo-sandbox as a child process with quick webhook retries and expiry sweeps. */
export async function startSandbox (t: TestContext): Promise<SandboxProcess> {
  return await startSandboxProcess(t, { WEBHOOK_RETRY_DELAYS_MS: '50,100,200', WEBHOOK_TIMEOUT_MS: '2000', EXPIRY_SWEEP_MS: '100' })
}

export const sandboxKey = (): string => `sk_sandbox_${randomBytes(12).toString('base64url')}`

export interface Clients {
  db: Kysely<Tables>
  messaging: Messaging
  publisher: EventPublisher
  store: EventStore
}

/** A publisher, a store reader and a database handle on the test's database and stream. */
export async function connectClients (t: TestContext, env: Record<string, string>): Promise<Clients> {
  const config = loadConfig(IngestConfigSchema, env)
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'webhook-ingest-test' })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry, retryDelayMs: 20 })
  const store = await createEventStore({ connectionString: config.DATABASE_URL, registry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())
  const db = createDatabase<Tables>({ connectionString: config.DATABASE_URL, max: 3 })
  onTeardown(t, () => db.destroy())
  return { db, messaging, publisher, store }
}

/** webhook-ingest in process with production options; listening when `port` is given; closed at teardown. */
export async function buildIngest (t: TestContext, env: Record<string, string>, port?: number): Promise<{ app: FastifyInstance, ingest: WebhookIngest }> {
  const config = loadConfig(IngestConfigSchema, env)
  const fastify = Fastify(serverOptions(config, { pretty: false }))
  let ingest = undefined as WebhookIngest | undefined
  await fastify.register(app, { config, expose: (parts) => { ingest = parts } })
  onTeardown(t, () => fastify.close())
  if (port === undefined) await fastify.ready()
  else await fastify.listen({ host: '127.0.0.1', port })
  if (ingest === undefined) throw new Error('webhook-ingest did not expose its parts')
  return { app: fastify, ingest }
}

/** A merchant whose Dojo account is a fresh sandbox key. */
export async function addMerchant (clients: Clients, env: Record<string, string>, dojoBaseUrl: string, secretKey = sandboxKey()): Promise<Merchant & { secretKey: string }> {
  const box = createSecretBox([env.SECRETS_ENCRYPTION_KEYS!])
  const merchant = await createMerchant(clients.db as unknown as Kysely<MerchantTables>, box, { name: 'Test shop', dojoSecretKey: secretKey, dojoBaseUrl })
  return { ...merchant, secretKey }
}

export function dojoClient (t: TestContext, baseUrl: string, secretKey: string): DojoClient {
  const client = createDojoClient({ baseUrl, secretKey, timeoutMs: 5000, retries: 1, retryDelayMs: 10 })
  onTeardown(t, () => client.close())
  return client
}

let linkCounter = 0
/** Publish `payment-link.requested` + `issued` for an intent, as link-issuer does. */
export async function issueLink (clients: Pick<Clients, 'publisher'>, merchantId: string, paymentIntentId: string, amount = 1250, expiresAt = new Date(Date.now() + 86_400_000)): Promise<string> {
  const linkId = `lnk_${randomBytes(9).toString('base64url')}${++linkCounter}`
  const streamId = paymentLinkStream(linkId)
  const metadata = { correlationId: `test-${linkId}`, producer: 'link-issuer' }
  const requested = registry.create('payment-link.requested', {
    linkId, merchantId, reference: `order-${linkId}`, amount: { value: amount, currencyCode: 'GBP' }, expiresAt: expiresAt.toISOString(), sendEmail: false, source: 'api'
  }, { streamId, metadata })
  const issued = registry.create('payment-link.issued', {
    linkId, merchantId, paymentIntentId, url: `https://pay.example/checkout/${paymentIntentId}`, expiresAt: expiresAt.toISOString()
  }, { streamId, metadata })
  await clients.publisher.publish([requested, issued], { expectedLastSubjectSequence: 0 })
  return linkId
}

/** Create an intent at the (sandbox) Dojo and issue a link for it. */
export async function newLink (clients: Clients, dojo: DojoClient, merchantId: string, options: { amount?: number, manual?: boolean } = {}): Promise<{ linkId: string, intentId: string }> {
  const intent = await dojo.createPaymentIntent({
    amount: { value: options.amount ?? 1250, currencyCode: 'GBP' },
    reference: `ref-${randomBytes(6).toString('hex')}`,
    paymentSource: 'payment-links',
    ...(options.manual === true ? { captureMode: 'Manual' as const } : {})
  })
  const linkId = await issueLink(clients, merchantId, intent.id, options.amount ?? 1250)
  return { linkId, intentId: intent.id }
}

export async function linkEvents (store: EventStore, linkId: string, type?: string): Promise<RecordedEvent[]> {
  const events = await store.readStream(paymentLinkStream(linkId))
  return type === undefined ? events : events.filter((e) => e.type === type)
}

/** The `to` of each recorded status change, in order. */
export async function moves (store: EventStore, linkId: string): Promise<string[]> {
  return (await linkEvents(store, linkId, 'payment-link.status-changed')).map((e) => e.data.to as string)
}

/** A proxy in front of Dojo that can be switched to answer 503 (Dojo down), or to answer slowly. */
export async function startSwitchableProxy (t: TestContext, target: string): Promise<{ url: string, setDown: (down: boolean) => void, setDelay: (ms: number) => void, hits: () => number }> {
  let down = false
  let delayMs = 0
  let hits = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { setTimeout(forward, delayMs) })
    const forward = (): void => {
      hits++
      if (down) { res.writeHead(503, { 'content-type': 'application/json' }); res.end('{"title":"down"}'); return }
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length' && k !== 'connection') headers[k] = v
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined
      fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body === undefined || req.method === 'GET' ? {} : { body }) })
        .then(async (r) => {
          const text = Buffer.from(await r.arrayBuffer())
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' })
          res.end(text)
        }, () => { res.writeHead(502); res.end() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { url: `http://127.0.0.1:${port}`, setDown: (d) => { down = d }, setDelay: (ms) => { delayMs = ms }, hits: () => hits }
}
