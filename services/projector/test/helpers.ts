import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { createEventStore, type EventStore } from '@paylinks/event-store'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, type EventPublisher, type Messaging } from '@paylinks/messaging'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { natsTestNames, onTeardown, spawnService, TEST_NATS_URL, type TestContext } from '@paylinks/test-kit'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import app from '../src/app.js'
import { ProjectorConfigSchema } from '../src/config.js'

export const registry = createEventRegistry(domainEvents)
const recorderEntry = fileURLToPath(new URL('../../event-recorder/src/server.ts', import.meta.url))

export interface World {
  env: Record<string, string>
  messaging: Messaging
  publisher: EventPublisher
  store: EventStore
}

/**
 * A database, an events stream with a real recorder process writing it to the store, and an
 * integration stream of this test's own.
 */
export async function createWorld (t: TestContext): Promise<World> {
  const { url } = await createMigratedTestDatabase(t)
  const events = natsTestNames(t, 'ev')
  const integration = natsTestNames(t, 'int')
  const env = {
    DATABASE_URL: url,
    NATS_URL: TEST_NATS_URL,
    EVENTS_STREAM: events.stream,
    EVENTS_SUBJECT_PREFIX: events.subjectPrefix,
    RECORDER_DURABLE: events.durable,
    INTEGRATION_STREAM: integration.stream,
    INTEGRATION_SUBJECT_PREFIX: `int${integration.durable.slice(-10)}`,
    LOG_LEVEL: 'warn',
    PORT: '0'
  }
  const config = loadConfig(ProjectorConfigSchema, env)
  const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'projector-test' })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  const recorder = spawnService(t, recorderEntry, { ...env, LOG_LEVEL: 'info' })
  await recorder.waitFor(/"msg":"recording"/)
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: events.subjectPrefix, registry })
  const store = await createEventStore({ connectionString: url, registry, pollIntervalMs: 200 })
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
