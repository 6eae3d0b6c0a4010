import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { sql, type Kysely } from 'kysely'
import { Counter, Gauge, Histogram } from 'prom-client'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { createDatabase, createEventStore, migrateOnStart } from '@paylinks/event-store'
import { apiKeyAuthOptions, createApiKeyAuthenticator, createSecretBox, encryptionKeys, type MerchantTables } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, natsCredentials } from '@paylinks/messaging'
import { serviceKit } from '@paylinks/service-kit'
import { parseSchedule, type WebhookDispatchConfig } from './config.js'
import { createEndpointCommands, endpointRegistry } from './endpoints.js'
import { createFanout, DUE_CHANNEL } from './fanout.js'
import { listen } from './listener.js'
import endpointRoutes from './routes/endpoints.js'
import { createSender } from './sender.js'
import type { DispatchTables } from './tables.js'
import { createWorker } from './worker.js'

export interface AppOptions {
  config: WebhookDispatchConfig
}

/**
 * webhook-dispatch as a Fastify plugin: the partner API for webhook endpoints (/v1), the store
 * subscriber that turns recorded events into due deliveries, and the delivery worker.
 */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(serviceKit, {
    name: 'webhook-dispatch',
    description: 'Outbound webhooks to partners, per the Standard Webhooks specification: endpoints, secrets, delivery log and replays. Per-endpoint ordering is not promised: de-duplicate and order by the payload, not by arrival.',
    ...(config.PUBLIC_URL === undefined ? {} : { publicUrl: config.PUBLIC_URL }),
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A merchant API key (pnpm admin key create --merchant mer_…).' } }
  })
  const schedule = parseSchedule(config.WEBHOOK_RETRY_SCHEDULE)
  const db = createDatabase<DispatchTables>({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'webhook-dispatch' })
  fastify.addHook('onClose', async () => { await db.destroy() })
  if (config.MIGRATE_ON_START) await migrateOnStart(db, config)
  const store = await createEventStore({ connectionString: config.DATABASE_URL, db, registry: createEventRegistry(domainEvents), applicationName: 'webhook-dispatch', pollIntervalMs: 250, log: fastify.log })
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'webhook-dispatch', ...natsCredentials(config) })
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry: endpointRegistry })
  const box = createSecretBox(encryptionKeys(config))
  const policy = { allowHttpLoopback: config.WEBHOOK_ALLOW_HTTP_LOOPBACK }
  const commands = createEndpointCommands({ db, store, publisher, box, policy })
  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(db))
  fastify.readiness.add('nats', async () => await messaging.ping())

  const attempts = new Counter({ name: 'webhook_dispatch_attempts_total', help: 'Delivery attempts, by outcome (delivered, retry, failed: schedule spent or 410, refused: SSRF guard).', labelNames: ['outcome'] as const, registers: [fastify.metrics] })
  const latency = new Histogram({ name: 'webhook_dispatch_attempt_seconds', help: 'Time from the request to the response headers (or the failure).', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [fastify.metrics] })
  const parked = new Counter({ name: 'webhook_dispatch_events_parked_total', help: 'Events the fan-out could not read and parked.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'webhook_dispatch_due_deliveries',
    help: 'Deliveries due now and not yet delivered (all replicas).',
    registers: [fastify.metrics],
    async collect () {
      const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM wd_deliveries WHERE status = 'pending' AND next_attempt_at <= now()`.execute(db)
      this.set(r.rows[0]?.n ?? 0)
    }
  })

  const sender = createSender({ policy, timeoutMs: config.WEBHOOK_TIMEOUT_MS })
  const owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const spread = schedule.reduce((a, b) => a + b, 0) * (1 - config.WEBHOOK_RETRY_JITTER)
  const worker = createWorker({
    db,
    sender,
    box,
    owner,
    schedule,
    jitter: config.WEBHOOK_RETRY_JITTER,
    leaseMs: config.WEBHOOK_LEASE_MS,
    pollMs: config.WEBHOOK_POLL_MS,
    concurrency: config.WEBHOOK_CONCURRENCY,
    endpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    batch: config.WEBHOOK_MAX_PER_ENDPOINT_BATCH,
    disableAfterFailingMs: config.WEBHOOK_DISABLE_AFTER_FAILING_MS ?? Math.floor(spread),
    disable: async (endpointId, reason, detail, failingSince) => {
      fastify.log.warn({ endpointId, reason, detail }, 'disabling webhook endpoint')
      await commands.disable(endpointId, reason, detail, failingSince)
    },
    onAttempt: (outcome, result) => {
      attempts.inc({ outcome })
      latency.observe(result.latencyMs / 1000)
    },
    log: fastify.log
  })
  const fanout = createFanout({ store, log: fastify.log, onParked: (p) => { parked.inc({ type: p.type }) } })
  let listener: { close: () => Promise<void> } | undefined

  fastify.get('/status', { schema: { tags: ['operations'], summary: 'The fan-out subscriber: where it is, and how far behind the store' } }, async () => {
    const head = await store.head()
    const s = fanout.status()
    return { fanout: { ...s, head, behind: s.active ? Math.max(0, head - s.position) : null }, worker: { owner, enabled: config.WEBHOOK_WORKER } }
  })

  const merchantDb = db as unknown as Kysely<MerchantTables>
  await fastify.register(endpointRoutes, { prefix: '/v1', db, commands, authenticator: createApiKeyAuthenticator(merchantDb, apiKeyAuthOptions(config)), box, overlapHours: config.WEBHOOK_ROTATION_OVERLAP_HOURS })

  fastify.addHook('onReady', async () => {
    if (!config.WEBHOOK_WORKER) return
    fanout.start()
    worker.start()
    listener = listen(config.DATABASE_URL, DUE_CHANNEL, () => { worker.wake() }, fastify.log)
  })
  fastify.addHook('onClose', async () => {
    await listener?.close()
    await fanout.stop()
    await worker.stop()
    await sender.close()
    await messaging.close()
    await store.close()
  })
}
