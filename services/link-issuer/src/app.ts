import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { createDatabase, createEventStore, migrateOnStart } from '@paylinks/event-store'
import { apiKeyAuthOptions, createApiKeyAuthenticator, createCustomerKeys, createSecretBox, encryptionKeys } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, natsCredentials, type ConsumerLoop } from '@paylinks/messaging'
import { serviceKit } from '@paylinks/service-kit'
import type { LinkIssuerConfig } from './config.js'
import { createMerchantDirectory } from './dojo.js'
import { createIssuer } from './issuer.js'
import { registry } from './link.js'
import { createMailer } from './mailer.js'
import { startOrderIntake } from './orders.js'
import { createLinksReadModel, READ_MODEL_NAME } from './read-model.js'
import { createReadYourWrites } from './read-your-writes.js'
import { findStuckLinks } from './repositories/links.js'
import { pruneIdempotencyKeys } from './repositories/idempotency-ttl.js'
import customerRoutes from './routes/customers.js'
import linkRoutes from './routes/links.js'
import moneyRoutes from './routes/money.js'
import { createMoney } from './money/operations.js'
import resultRoutes from './routes/result.js'
import { merchantDb, type LinkIssuerTables } from './tables.js'

export interface AppOptions {
  config: LinkIssuerConfig
}

/**
 * link-issuer as a Fastify plugin: the partner API (/v1), the customer's result page, the order
 * consumer on NATS, the links read model, and a sweep that resumes links left half-issued.
 */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(serviceKit, {
    name: 'link-issuer',
    description: 'Payment links on Dojo for partners (HTTP, `Authorization: Bearer <api key>`) and order systems (NATS).'
  })

  // One pool for the service's tables and the event store's reads; the store adds only its LISTEN connection.
  const db = createDatabase<LinkIssuerTables>({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'link-issuer' })
  fastify.addHook('onClose', async () => { await db.destroy() })
  if (config.MIGRATE_ON_START) await migrateOnStart(db, config)
  // No registry here: the store also holds other services' event types; ours are upcast where read.
  const store = await createEventStore({ connectionString: config.DATABASE_URL, db, applicationName: 'link-issuer', pollIntervalMs: 250, log: fastify.log })
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'link-issuer', ...natsCredentials(config) })
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry })
  const box = createSecretBox(encryptionKeys(config))
  const customers = createCustomerKeys({ db: merchantDb(db), box, cacheMs: config.CUSTOMER_KEY_CACHE_MS })
  const merchants = createMerchantDirectory({ db, box, timeoutMs: config.DOJO_TIMEOUT_MS, retries: config.DOJO_RETRIES, retryDelayMs: config.DOJO_RETRY_DELAY_MS })
  const mailer = config.SMTP_URL === undefined ? undefined : createMailer({ url: config.SMTP_URL, from: config.MAIL_FROM, timeoutMs: config.SMTP_TIMEOUT_MS })
  // A lease outlives the longest create: each attempt's timeout, its retries, and the look-ups.
  const leaseMs = config.DOJO_TIMEOUT_MS * (config.DOJO_RETRIES + 1) * 4 + 5000
  const issuer = createIssuer({
    db,
    store,
    publisher,
    merchants,
    customers,
    publicUrl: config.PUBLIC_URL.replace(/\/+$/, ''),
    leaseMs,
    waitMs: Math.min(leaseMs, config.REQUEST_TIMEOUT_MS - 1000),
    log: fastify.log,
    ...(mailer === undefined ? {} : { mailer })
  })
  const readModel = createLinksReadModel(store, fastify.log, config.LIST_LINGER_MS)
  const readYourWrites = createReadYourWrites({ db: store.db, readModel, name: READ_MODEL_NAME, waitMs: config.LIST_CONSISTENCY_WAIT_MS })

  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(db))
  fastify.readiness.add('nats', async () => await messaging.ping())

  await fastify.register(linkRoutes, {
    prefix: '/v1',
    db,
    issuer,
    merchants,
    authenticator: createApiKeyAuthenticator(merchantDb(db), apiKeyAuthOptions(config)),
    readYourWrites,
    emailAvailable: mailer !== undefined,
    rateLimit: { max: config.RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS }
  })
  await fastify.register(moneyRoutes, {
    prefix: '/v1',
    money: createMoney({ db, store, publisher, merchants }),
    merchants,
    authenticator: createApiKeyAuthenticator(merchantDb(db), apiKeyAuthOptions(config)),
    readYourWrites,
    rateLimit: { max: config.RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS }
  })
  await fastify.register(customerRoutes, { prefix: '/v1', db, publisher, customers })
  await fastify.register(resultRoutes, { issuer, merchants, rateLimit: { max: config.RESULT_RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS } })

  let orders: ConsumerLoop | undefined
  let sweep: NodeJS.Timeout | undefined
  let sweeping: Promise<void> | undefined

  /** Links stuck in `requested` (a crash, a Dojo outage) or issued with an unsent e-mail; then expired Idempotency-Keys. */
  async function recover (): Promise<void> {
    const stuck = await findStuckLinks(db, new Date(Date.now() - config.RECOVERY_AFTER_MS), 20)
    for (const linkId of stuck) {
      try {
        const state = await issuer.resume(linkId)
        fastify.log.info({ linkId, status: state?.status }, 'recovered link')
      } catch (error) {
        fastify.log.warn({ err: error, linkId }, 'link recovery failed; next sweep tries again')
      }
    }
    // Bounded per sweep; every replica may run it (the batches skip each other's rows).
    const pruned = await pruneIdempotencyKeys(db, { ttlHours: config.IDEMPOTENCY_KEY_TTL_HOURS })
    if (pruned > 0) fastify.log.info({ pruned }, 'expired idempotency keys deleted')
  }

  fastify.addHook('onReady', async () => {
    readModel.start()
    orders = await startOrderIntake({
      messaging,
      publisher,
      issuer,
      merchants,
      emailAvailable: mailer !== undefined,
      stream: config.ORDERS_STREAM,
      subjectPrefix: config.ORDERS_SUBJECT_PREFIX,
      durable: config.ORDERS_DURABLE,
      maxAgeMs: Math.round(config.ORDERS_MAX_AGE_HOURS * 3_600_000),
      concurrency: config.ORDERS_CONCURRENCY,
      maxAttempts: config.ORDERS_MAX_ATTEMPTS,
      retryDelayMs: config.ORDERS_RETRY_DELAY_MS,
      ackWaitMs: leaseMs + 5000,
      log: fastify.log
    })
    if (config.RECOVERY_INTERVAL_MS > 0) {
      sweep = setInterval(() => {
        sweeping ??= recover().catch((error: unknown) => { fastify.log.error({ err: error }, 'recovery sweep failed') }).finally(() => { sweeping = undefined })
      }, config.RECOVERY_INTERVAL_MS)
      sweep.unref()
    }
  })

  // Drain in order: stop taking orders and sweeping, let handlers settle, then close connections.
  fastify.addHook('onClose', async () => {
    clearInterval(sweep)
    await orders?.stop()
    await sweeping
    await issuer.close()
    await readModel.stop()
    await merchants.close()
    mailer?.close()
    await messaging.close()
    await store.close()
  })
}
