import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { Webhook } from 'standardwebhooks'
import { createEventRegistry, domainEvents, type NewEvent } from '@paylinks/contracts'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, type EventPublisher } from '@paylinks/messaging'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { eventsStreamEnv, linkFacts, natsTestNames, onTeardown, roleUrl, startRecorder, TEST_NATS_URL, until, type TestContext } from '@paylinks/test-kit'
import app from '../src/app.js'
import { WebhookDispatchConfigSchema } from '../src/config.js'
import type { DispatchTables } from '../src/tables.js'

export const registry = createEventRegistry(domainEvents)
export const SECRETS_KEY = randomBytes(32).toString('base64')

export interface World {
  env: Record<string, string>
  /** Publishes as link-issuer (payment-link events it owns). */
  issuer: EventPublisher
  /** Publishes as webhook-ingest (status changes it owns). */
  ingest: EventPublisher
  /** The owner's view of the database, for assertions. */
  db: Kysely<DispatchTables>
  /** A merchant's API key. */
  keyFor: (merchantId: string) => Promise<string>
}

/**
 * A database, an events stream of this test's own with a real recorder process, merchants
 * made on demand, and the dispatch configuration (its own role; loopback allowed: the test
 * receiver is on 127.0.0.1; a short schedule and timeout).
 */
export async function createWorld (t: TestContext, overrides: Record<string, string> = {}): Promise<World> {
  const { url } = await createMigratedTestDatabase(t)
  const events = natsTestNames(t, 'wd')
  const env = {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.webhookDispatch),
    ...eventsStreamEnv(events),
    SECRETS_ENCRYPTION_KEYS: SECRETS_KEY,
    WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true',
    WEBHOOK_RETRY_SCHEDULE: '0,200ms,400ms',
    WEBHOOK_RETRY_JITTER: '0',
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_POLL_MS: '100',
    LOG_LEVEL: 'warn',
    PORT: '0',
    ...overrides
  }
  const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'dispatch-test' })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, eventsStreamOptions(loadConfig(WebhookDispatchConfigSchema, env)))
  await startRecorder(t, env)
  const db = createDatabase<DispatchTables>({ connectionString: url, max: 2 })
  onTeardown(t, () => db.destroy())
  const box = createSecretBox([SECRETS_KEY])
  const merchants = new Set<string>()
  const publisher = (producer: string): EventPublisher => {
    const inner = createEventPublisher({ js: messaging.js, subjectPrefix: events.subjectPrefix, registry })
    return { publish: async (list, options) => await inner.publish(list.map((e) => ({ ...e, metadata: { ...e.metadata, producer } })), options) }
  }
  return {
    env,
    issuer: publisher('link-issuer'),
    ingest: publisher('webhook-ingest'),
    db,
    keyFor: async (merchantId) => {
      const mdb = db as unknown as Kysely<MerchantTables>
      if (!merchants.has(merchantId)) {
        await createMerchant(mdb, box, { id: merchantId, name: merchantId, dojoSecretKey: 'sk_sandbox_testkey123', dojoBaseUrl: 'http://127.0.0.1:4010' })
        merchants.add(merchantId)
      }
      return (await createApiKey(mdb, { merchantId })).key
    }
  }
}

/** The dispatch app in process with production options; closed at teardown. */
export async function buildDispatch (t: TestContext, env: Record<string, string>): Promise<FastifyInstance> {
  const config = loadConfig(WebhookDispatchConfigSchema, env)
  const fastify = Fastify(serverOptions(config, { pretty: false }))
  await fastify.register(app, { config })
  await fastify.ready()
  onTeardown(t, () => fastify.close())
  return fastify
}

export interface Received {
  id: string
  timestamp: string
  signature: string
  body: string
  payload: any
  /** Which of the receiver's secrets verified it with the reference library (index), or -1. */
  verifiedWith: number
  verifyError?: string
}

export interface Receiver {
  url: string
  received: Received[]
  /** The secrets to verify with, tried in order. */
  secrets: string[]
  /** How to answer the next requests: a status, or 'hang' (never answers within the timeout). */
  respond: (req: Received) => number | 'hang'
}

/**
 * A partner's endpoint: Fastify on 127.0.0.1 that verifies every delivery with the Standard
 * Webhooks reference library (`new Webhook(secret).verify(body, headers)`), on the raw body.
 */
export async function startReceiver (t: TestContext, path = '/hooks'): Promise<Receiver> {
  const server = Fastify()
  const receiver: Receiver = { url: '', received: [], secrets: [], respond: () => 204 }
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
  server.post(path, async (request, reply) => {
    const body = request.body as string
    const headers = { 'webhook-id': String(request.headers['webhook-id']), 'webhook-timestamp': String(request.headers['webhook-timestamp']), 'webhook-signature': String(request.headers['webhook-signature']) }
    const entry: Received = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body, payload: undefined, verifiedWith: -1 }
    for (const [i, secret] of receiver.secrets.entries()) {
      try {
        entry.payload = new Webhook(secret).verify(body, headers)
        entry.verifiedWith = i
        break
      } catch (error) {
        entry.verifyError = (error as Error).message
      }
    }
    receiver.received.push(entry)
    const answer = receiver.respond(entry)
    if (answer === 'hang') {
      await new Promise((resolve) => setTimeout(resolve, 3000))
      return await reply.code(204).send()
    }
    return await reply.code(answer).send()
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  onTeardown(t, () => server.close())
  const address = server.server.address() as { port: number }
  receiver.url = `http://127.0.0.1:${address.port}${path}`
  return receiver
}

export { statusChanged, testLinkId as linkId } from '@paylinks/test-kit'

/** A link requested (with a customer's personal data) and issued, as link-issuer publishes it. */
export function linkEvents (id: string, merchantId: string, reference?: string): { requested: NewEvent, issued: NewEvent } {
  return linkFacts(id, { merchantId, ...(reference === undefined ? {} : { reference }), customerEmail: 'someone@example.com' })
}

/** Call the API as a merchant. */
export async function call (app: FastifyInstance, key: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, headers: Record<string, unknown> }> {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...headers }, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) })
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json(), headers: res.headers }
}

/** Create an endpoint for the receiver and let the receiver verify with its secret. */
export async function endpointFor (app: FastifyInstance, key: string, receiver: Receiver, eventTypes?: string[]): Promise<{ id: string, secret: string }> {
  const created = await call(app, key, 'POST', '/v1/webhook-endpoints', { url: receiver.url, ...(eventTypes === undefined ? {} : { eventTypes }) })
  if (created.status !== 201) throw new Error(`endpoint not created: ${created.status} ${JSON.stringify(created.body)}`)
  receiver.secrets.push(created.body.secret)
  return { id: created.body.id, secret: created.body.secret }
}

/** Wait for the delivery log of an endpoint to satisfy a probe. */
export async function deliveriesOf (app: FastifyInstance, key: string, endpointId: string): Promise<any[]> {
  const r = await call(app, key, 'GET', `/v1/webhook-endpoints/${endpointId}/deliveries?limit=200`)
  return r.body.data
}

export { until }
