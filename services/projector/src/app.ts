import type { FastifyInstance } from 'fastify'
import { Counter, Gauge } from 'prom-client'
import { sql, type Kysely } from 'kysely'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { countParked, createEventStore, migrateOnStart, type EventStore, type EventStoreTables, type ParkedEvent, type StoreSubscriber } from '@paylinks/event-store'
import { connectMessaging, ensureStream, natsCredentials, streamReplicas } from '@paylinks/messaging'
import { apiKeyAuthOptions, createApiKeyAuthenticator, type MerchantTables } from '@paylinks/merchants'
import { serviceKit } from '@paylinks/service-kit'
import type { ProjectorConfig } from './config.js'
import type { ProjectorTables } from './tables.js'
import { createIntegrationPublisher } from './integration.js'
import { projectionLag, projectionLagGauges } from './lag.js'
import { projections } from './projections/index.js'
import { ProjectionRunner } from './projections/runner.js'
import dashboard from './routes/dashboard.js'
import v1 from './routes/v1.js'

export interface AppOptions {
  config: ProjectorConfig
}

/**
 * projector as a Fastify plugin: store subscribers that turn recorded events into read models
 * and into the integration events order systems receive, with their lag in /metrics.
 */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(serviceKit, {
    name: 'projector',
    description: 'Projections of the event store: the analyst and partner query API, the dashboard, and integration events out to order systems.',
    ...(config.PUBLIC_URL === undefined ? {} : { publicUrl: config.PUBLIC_URL }),
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: merchant keys read their merchant, analyst keys read all.' } }
  })

  const store = await createEventStore({ connectionString: config.DATABASE_URL, registry: createEventRegistry(domainEvents), poolSize: config.DATABASE_POOL_SIZE, applicationName: 'projector', log: fastify.log })
  if (config.MIGRATE_ON_START) await migrateOnStart(store.db, config)
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'projector', log: fastify.log, ...natsCredentials(config) })
  await ensureStream(messaging.jsm, {
    name: config.INTEGRATION_STREAM,
    subjects: [`${config.INTEGRATION_SUBJECT_PREFIX}.v1.>`],
    maxAgeMs: Math.round(config.INTEGRATION_MAX_AGE_HOURS * 3_600_000),
    replicas: streamReplicas(config)
  })
  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(store.db))
  fastify.readiness.add('nats', async () => await messaging.ping())

  const parkedTotal = new Counter({ name: 'projector_events_parked_total', help: 'Events a subscriber could not read and parked (replay after an upgrade: pnpm projections replay-parked).', labelNames: ['subscriber', 'type'] as const, registers: [fastify.metrics] })
  parkedGauge(fastify, store)
  const onParked = (p: ParkedEvent): void => { parkedTotal.inc({ subscriber: p.subscriber, type: p.type }) }
  const published = new Counter({ name: 'projector_integration_events_published_total', help: 'Integration events published, by kind.', labelNames: ['kind'] as const, registers: [fastify.metrics] })
  const integration = createIntegrationPublisher({
    store,
    js: messaging.js,
    subjectPrefix: config.INTEGRATION_SUBJECT_PREFIX,
    log: fastify.log,
    onParked,
    onPublished: (kind) => { published.inc({ kind }) }
  })
  const subscribers = { integration }
  lagGauge(fastify, store, subscribers)
  const runner = new ProjectionRunner({ store, projections, log: fastify.log, intervalMs: config.PROJECTION_RECONCILE_MS, onParked })
  projectionLagGauges(fastify, store, runner)
  fastify.get('/status', { schema: { tags: ['operations'], summary: 'Each subscriber and projection: where it is, and how far behind' } },
    async () => ({
      subscribers: Object.fromEntries(Object.entries(subscribers).map(([name, s]) => [name, s.status()])),
      projections: await projectionLag(store, runner),
      parked: await countParked(store.db)
    }))
  // The same pool seen through the merchants package's tables (Kysely is invariant in them).
  const merchantDb = store.db as unknown as Kysely<MerchantTables>
  await fastify.register(v1, { prefix: '/v1', db: store.db.withTables<Omit<ProjectorTables, keyof EventStoreTables>>(), authenticator: createApiKeyAuthenticator(merchantDb, apiKeyAuthOptions(config)), lag: async () => await projectionLag(store, runner) })
  await fastify.register(dashboard)

  fastify.addHook('onReady', async () => {
    for (const s of Object.values(subscribers)) s.start()
    runner.start()
    // After an upgrade, what the old code parked may be readable now: publish it (order systems
    // get it late, de-duplicated by event id). Projections are replayed with the CLI.
    integration.replayParked().then(
      (r) => { if (r.replayed.length + r.stillParked.length > 0) fastify.log.warn({ replayed: r.replayed.length, stillParked: r.stillParked.length }, 'integration publisher replayed parked events') },
      (error: unknown) => { fastify.log.error({ err: error }, 'replaying parked integration events failed') })
  })
  fastify.addHook('onClose', async () => {
    await runner.stop()
    await Promise.all(Object.values(subscribers).map(async (s) => { await s.stop() }))
    await messaging.close()
    await store.close()
  })
}

/** Events each subscriber is behind the store's head, computed on scrape. */
function lagGauge (fastify: FastifyInstance, store: EventStore, subscribers: Record<string, StoreSubscriber>): Gauge {
  return new Gauge({
    name: 'projector_lag_events',
    help: 'Recorded events a subscriber has not applied yet (store head minus its checkpoint).',
    labelNames: ['subscriber'] as const,
    registers: [fastify.metrics],
    async collect () {
      const head = await store.head()
      for (const [name, s] of Object.entries(subscribers)) this.set({ subscriber: name }, Math.max(0, head - s.status().position))
    }
  })
}

/** Parked events waiting for a replay, per subscriber, counted on scrape: alert while it is above 0. */
function parkedGauge (fastify: FastifyInstance, store: EventStore): Gauge {
  return new Gauge({
    name: 'projector_parked_events',
    help: 'Parked events waiting for a replay (pnpm projections replay-parked), by subscriber.',
    labelNames: ['subscriber'] as const,
    registers: [fastify.metrics],
    async collect () {
      this.reset()
      for (const [subscriber, n] of Object.entries(await countParked(store.db))) this.set({ subscriber }, n)
    }
  })
}
