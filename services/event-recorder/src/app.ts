import type { FastifyInstance } from 'fastify'
import { sql, type Kysely } from 'kysely'
import type { EventRegistry, ProducerRules } from '@paylinks/contracts'
import { createDatabase, migrateOnStart, type EventStoreTables } from '@paylinks/event-store'
import { connectMessaging, ensureStream, eventsStreamOptions, natsCredentials } from '@paylinks/messaging'
import { serviceKit } from '@paylinks/service-kit'
import type { RecorderConfig } from './config.js'
import { recorderMetrics } from './metrics.js'
import { createRecorder } from './recorder.js'

export interface AppOptions {
  config: RecorderConfig
  /** What the record accepts. Default: every domain event; tests of the core pass their own. */
  registry?: EventRegistry<any>
  /** Who may publish each type. Default: `domainEventProducers`. */
  producers?: ProducerRules
}

/**
 * event-recorder as a Fastify plugin: operations endpoints (health, readiness, metrics) around
 * the recorder loop, which starts when the server is ready and drains on close.
 */
export default async function app (fastify: FastifyInstance, { config, registry, producers }: AppOptions): Promise<void> {
  await fastify.register(serviceKit, { name: 'event-recorder', description: 'The one writer of the event store: JetStream events stream -> Postgres.', docs: false })

  const db = createDatabase({ connectionString: config.DATABASE_URL, max: 3, applicationName: 'event-recorder', log: fastify.log })
  if (config.MIGRATE_ON_START) await migrateOnStart(db, config)

  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'event-recorder', log: fastify.log, ...natsCredentials(config) })
  const streamOptions = eventsStreamOptions(config)
  await ensureStream(messaging.jsm, streamOptions)

  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(db))
  fastify.readiness.add('nats', async () => await messaging.ping())

  const recorder = createRecorder({
    db,
    messaging,
    stream: config.EVENTS_STREAM,
    subjectPrefix: config.EVENTS_SUBJECT_PREFIX,
    durable: config.RECORDER_DURABLE,
    batchSize: config.RECORDER_BATCH_SIZE,
    lingerMs: config.RECORDER_LINGER_MS,
    lockId: config.RECORDER_LOCK_ID,
    standbyPollMs: config.RECORDER_STANDBY_POLL_MS,
    retryDelayMs: config.RECORDER_RETRY_DELAY_MS,
    heartbeatMs: config.RECORDER_HEARTBEAT_MS,
    lockSessionTimeoutMs: config.RECORDER_LOCK_SESSION_TIMEOUT_MS,
    log: fastify.log,
    ...(registry === undefined ? {} : { registry }),
    ...(producers === undefined ? {} : { producers }),
    onBatch: (batch) => { metrics.onBatch(batch) }
  })
  const metrics = recorderMetrics(fastify.metrics, { messaging, stream: config.EVENTS_STREAM, maxAgeMs: streamOptions.maxAgeMs, status: recorder.status })
  fastify.get('/status', { schema: { tags: ['operations'], summary: 'Whether this instance records, where it is, and what the record refused' } },
    async () => ({ ...recorder.status(), deadLetters: await deadLetterCounts(db) }))

  fastify.addHook('onReady', async () => { recorder.start() })
  // Drain in order: finish and commit the batch in hand, then let go of NATS and Postgres.
  fastify.addHook('onClose', async () => {
    await recorder.stop()
    await messaging.close()
    await db.destroy()
  })
}

/** Dead letters kept so far, by kind (the store's count, not this instance's). */
async function deadLetterCounts (db: Kysely<EventStoreTables>): Promise<{ total: number, byReason: Record<string, number>, lastPosition: number | null }> {
  const rows = await db.selectFrom('es_dead_letters')
    .select((eb) => ['kind', eb.fn.countAll<string>().as('count'), eb.fn.max('position').as('last')])
    .groupBy('kind').execute()
  const byReason = Object.fromEntries(rows.map((r) => [r.kind, Number(r.count)]))
  const last = rows.reduce<number | null>((max, r) => max === null || Number(r.last) > max ? Number(r.last) : max, null)
  return { total: rows.reduce((n, r) => n + Number(r.count), 0), byReason, lastPosition: last }
}
