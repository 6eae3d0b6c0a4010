import Fastify, { type FastifyInstance } from 'fastify'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES, record, type EventStore, type PositionedEvent } from '@paylinks/event-store'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, type EventPublisher, type Messaging } from '@paylinks/messaging'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { eventsStreamEnv, natsTestNames, onTeardown, roleUrl, startRecorder, TEST_NATS_URL, type TestContext } from '@paylinks/test-kit'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import app from '../src/app.js'
import { buildHistory } from './fixtures/history.js'
import { ProjectorConfigSchema } from '../src/config.js'

export const registry = createEventRegistry(domainEvents)

export interface World {
  env: Record<string, string>
  messaging: Messaging
  publisher: EventPublisher
  store: EventStore
}

/**
 * A database, an events stream with a real recorder process writing it to the store, and an
 * integration stream of this test's own; the projector and the recorder log in with their own roles.
 */
export async function createWorld (t: TestContext): Promise<World> {
  const { url } = await createMigratedTestDatabase(t)
  const events = natsTestNames(t, 'ev')
  const integration = natsTestNames(t, 'int')
  const env = {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.projector),
    ...eventsStreamEnv(events),
    INTEGRATION_STREAM: integration.stream,
    INTEGRATION_SUBJECT_PREFIX: `int${integration.durable.slice(-10)}`,
    LOG_LEVEL: 'warn',
    PORT: '0'
  }
  const config = loadConfig(ProjectorConfigSchema, env)
  const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'projector-test' })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  await startRecorder(t, env)
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: events.subjectPrefix, registry })
  const store = await createEventStore({ connectionString: env.DATABASE_URL, registry, pollIntervalMs: 200 })
  onTeardown(t, () => store.close())
  return { env, messaging, publisher, store }
}

/** The projector app in process with production options; closed at teardown. */
export async function buildProjector (t: TestContext, env: Record<string, string>): Promise<FastifyInstance> {
  const config = loadConfig(ProjectorConfigSchema, env)
  const fastify = Fastify(serverOptions(config, { pretty: false }))
  await fastify.register(app, { config })
  await fastify.ready()
  onTeardown(t, () => fastify.close())
  return fastify
}

/**
 * Merchants wired to a (never called) sandbox, a history of their links already in the store,
 * and a projector (as its own role) over it on streams of this test's own: no recorder needed.
 */
export async function projectorOverHistory (t: TestContext, options: { merchants: string[], start: Date, linksPerMerchant?: number }): Promise<{ app: FastifyInstance, db: Kysely<MerchantTables>, history: PositionedEvent[] }> {
  const { url } = await createMigratedTestDatabase(t)
  const db = createDatabase<MerchantTables>({ connectionString: url, max: 2 })
  onTeardown(t, () => db.destroy())
  const box = createSecretBox([randomBytes(32).toString('base64')])
  for (const id of options.merchants) await createMerchant(db, box, { id, name: id, dojoSecretKey: 'sk_sandbox_testkey123', dojoBaseUrl: 'http://127.0.0.1:4010' })
  const history = buildHistory({ merchants: options.merchants, linksPerMerchant: options.linksPerMerchant ?? 40, start: options.start })
  await record(db as never, history)
  const events = natsTestNames(t, 'pev')
  const integration = natsTestNames(t, 'pint')
  const app = await buildProjector(t, {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.projector),
    ...eventsStreamEnv(events),
    INTEGRATION_STREAM: integration.stream,
    INTEGRATION_SUBJECT_PREFIX: `p${integration.durable.slice(-10)}`,
    LOG_LEVEL: 'warn',
    PROJECTION_RECONCILE_MS: '50'
  })
  return { app, db, history }
}
