import Fastify, { type FastifyInstance } from 'fastify'
import { createEventStore, DATABASE_ROLES, type EventStore } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, type EventPublisher, type Messaging } from '@paylinks/messaging'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import type { EventRegistry, ProducerRules } from '@paylinks/contracts'
import { eventsStreamEnv, natsTestNames, onTeardown, roleUrl, testProducers, testRegistry, type TestContext } from '@paylinks/test-kit'

export { until } from '@paylinks/test-kit'
import app from '../src/app.js'
import { RecorderConfigSchema } from '../src/config.js'

/** Environment for a recorder on this test's own database (migrated as the owner, recorded into as its own role) and stream. */
export async function recorderEnv (t: TestContext, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const { url } = await createMigratedTestDatabase(t)
  const names = natsTestNames(t, 'rec')
  return {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.eventRecorder),
    ...eventsStreamEnv(names),
    RECORDER_STANDBY_POLL_MS: '50',
    RECORDER_RETRY_DELAY_MS: '50',
    LOG_LEVEL: 'warn',
    PORT: '0',
    ...overrides
  }
}

/**
 * The recorder app, in process, with production options; closed at teardown. It records the
 * test vocabulary (ledger events by producer `test`) unless given another registry and rules.
 */
export async function buildRecorder (t: TestContext, env: Record<string, string>, contract: { registry?: EventRegistry<any>, producers?: ProducerRules } = {}): Promise<FastifyInstance> {
  const config = loadConfig(RecorderConfigSchema, env)
  const fastify = Fastify(serverOptions(config, { pretty: false }))
  await fastify.register(app, { config, registry: contract.registry ?? testRegistry, producers: contract.producers ?? testProducers })
  await fastify.ready()
  onTeardown(t, () => fastify.close())
  return fastify
}

/** A publisher and a store reader on the same database and stream as the recorder. */
export async function connectClients (t: TestContext, env: Record<string, string>): Promise<{ messaging: Messaging, publisher: EventPublisher, store: EventStore }> {
  const config = loadConfig(RecorderConfigSchema, env)
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'recorder-test' })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry: testRegistry, retryDelayMs: 20 })
  const store = await createEventStore({ connectionString: config.DATABASE_URL, registry: testRegistry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())
  return { messaging, publisher, store }
}
