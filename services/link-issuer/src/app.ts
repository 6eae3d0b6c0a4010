import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { createDatabase, createEventStore, migrateOnStart } from '@paylinks/event-store'
import { apiKeyAuthOptions, createApiKeyAuthenticator, createCustomerKeys, createSecretBox, encryptionKeys } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, natsCredentials, streamReplicas, type ConsumerLoop } from '@paylinks/messaging'
import { serviceKit } from '@paylinks/service-kit'
import type { LinkIssuerConfig } from './config.js'
import { createMerchantDirectory } from './dojo.js'
import { createIssuer } from './issuer.js'
import { startInstanceLock } from './issuing/instance.js'
import { deleteLease, findAbandonedLeases } from './issuing/leases.js'
import { registry } from './link.js'
import { createMailer } from './mailer.js'
import { startOrderIntake } from './orders.js'
import { createLinksReadModel, READ_MODEL_NAME } from './read-model.js'
import { createOwnWrites } from './own-writes.js'
import { createReadYourWrites } from './read-your-writes.js'
import { findStuckLinks } from './repositories/links.js'
import { pruneIdempotencyKeys } from './repositories/idempotency-ttl.js'
import customerRoutes from './routes/customers.js'
import linkRoutes from './routes/links.js'
import moneyRoutes from './routes/money.js'
import { partnerApi } from './routes/partner-api.js'
import { createMoney } from './money/operations.js'
import resultRoutes from './routes/result.js'
import reusableLinkRoutes from './routes/reusable-links.js'
import reusablePageRoutes from './routes/reusable-pages.js'
import { createReusableLinks } from './reusable/reusable-links.js'
import settingsRoutes from './routes/settings.js'
import shortLinkRoutes from './routes/short-links.js'
import { findDueReminders } from './repositories/reminders.js'
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
    description: 'Payment links on Dojo for partners (HTTP, `Authorization: Bearer <api key>`) and order systems (NATS).',
    publicUrl: config.PUBLIC_URL,
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A merchant API key (pnpm admin key create --merchant mer_…); analyst keys only read.' } }
  })

  // One pool for the service's tables and the event store's reads; the store adds only its LISTEN connection.
  const db = createDatabase<LinkIssuerTables>({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'link-issuer', log: fastify.log })
  fastify.addHook('onClose', async () => { await db.destroy() })
  if (config.MIGRATE_ON_START) await migrateOnStart(db, config)
  // No registry here: the store also holds other services' event types; ours are upcast where read.
  const recorded = await createEventStore({ connectionString: config.DATABASE_URL, db, applicationName: 'link-issuer', pollIntervalMs: 250, log: fastify.log })
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'link-issuer', log: fastify.log, ...natsCredentials(config) })
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  // Requests are answered once JetStream has acknowledged their events; reads of a stream this
  // process wrote wait for the store to record it (own-writes.ts), not the writes.
  const ownWrites = createOwnWrites({
    store: recorded,
    publisher: createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry }),
    waitMs: Math.max(1000, Math.min(10_000, config.REQUEST_TIMEOUT_MS - 1000)),
    head: async () => (await messaging.jsm.streams.info(eventsStreamOptions(config).name)).state.last_seq
  })
  const { store, publisher } = ownWrites
  const box = createSecretBox(encryptionKeys(config))
  const customers = createCustomerKeys({ db: merchantDb(db), box, cacheMs: config.CUSTOMER_KEY_CACHE_MS })
  const merchants = createMerchantDirectory({ db, box, timeoutMs: config.DOJO_TIMEOUT_MS, retries: config.DOJO_RETRIES, retryDelayMs: config.DOJO_RETRY_DELAY_MS })
  const mailer = config.SMTP_URL === undefined ? undefined : createMailer({ url: config.SMTP_URL, from: config.MAIL_FROM, timeoutMs: config.SMTP_TIMEOUT_MS })
  // This process's session lock: its issue leases are free the moment the process is gone, and
  // the replica holding the leader lock runs the sweeps.
  const instance = await startInstanceLock({ connectionString: config.DATABASE_URL, log: fastify.log })
  fastify.addHook('onClose', async () => { await instance.close() })
  // The longest create (each attempt's timeout, its retries, and the look-ups): an order in a
  // handler is not redelivered before it. The lease is short and renewed instead.
  const createBudgetMs = config.DOJO_TIMEOUT_MS * (config.DOJO_RETRIES + 1) * 4 + 5000
  const issuer = createIssuer({
    db,
    store,
    publisher,
    merchants,
    customers,
    publicUrl: config.PUBLIC_URL.replace(/\/+$/, ''),
    leaseMs: config.ISSUE_LEASE_MS,
    ownerLock: () => instance.key,
    waitMs: Math.max(0, Math.min(config.ISSUE_WAIT_MS, config.REQUEST_TIMEOUT_MS - 1000)),
    openEventIntervalMs: config.OPEN_EVENT_INTERVAL_MS,
    log: fastify.log,
    ...(mailer === undefined ? {} : { mailer })
  })
  const reusable = createReusableLinks({ db, store, publisher, issuer, merchants, holdMs: config.REUSABLE_HOLD_S * 1000, lingerMs: config.REUSABLE_LINGER_MS, log: fastify.log })
  const readModel = createLinksReadModel(store, fastify.log, config.LIST_LINGER_MS)
  const readYourWrites = createReadYourWrites({ db: store.db, readModel, name: READ_MODEL_NAME, waitMs: config.LIST_CONSISTENCY_WAIT_MS })

  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(db))
  fastify.readiness.add('nats', async () => await messaging.ping())

  // The partner API: links and money behind one guard (API key, one rate-limit budget per key, merchant).
  const authenticator = createApiKeyAuthenticator(merchantDb(db), apiKeyAuthOptions(config))
  await fastify.register(async (api) => {
    await api.register(partnerApi, { authenticator, merchants, rateLimit: { max: config.RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS } })
    await api.register(linkRoutes, { db, issuer, readYourWrites, reach: ownWrites.reach, reachHead: ownWrites.reachHead, emailAvailable: mailer !== undefined, publicUrl: config.PUBLIC_URL })
    await api.register(settingsRoutes, { db, minIntervalSeconds: config.REMINDER_MIN_INTERVAL_S, emailAvailable: mailer !== undefined })
    await api.register(reusableLinkRoutes, { db, reusable, publicUrl: config.PUBLIC_URL })
    await api.register(moneyRoutes, { money: createMoney({ db, store, publisher, merchants }), readYourWrites })
  }, { prefix: '/v1' })
  await fastify.register(customerRoutes, { prefix: '/v1', db, publisher, customers })
  await fastify.register(resultRoutes, { issuer, merchants, rateLimit: { max: config.RESULT_RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS } })
  await fastify.register(reusablePageRoutes, { reusable, merchants, rateLimit: { max: config.RESULT_RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS } })
  await fastify.register(shortLinkRoutes, { issuer, merchants, publicUrl: config.PUBLIC_URL, rateLimit: { max: config.RESULT_RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS } })

  let orders: ConsumerLoop | undefined
  const timers: NodeJS.Timeout[] = []
  const running = new Set<Promise<void>>()

  /**
   * Every `intervalMs`, `task` on the one replica that holds the sweep leader lock (so each side
   * effect of a sweep has one owner across replicas; each link's lease and e-mail claim guard it
   * again), never two runs of it at once; `now` also runs it at start.
   */
  function every (name: string, intervalMs: number, task: () => Promise<void>, now = false): void {
    if (intervalMs <= 0) return
    let current: Promise<void> | undefined
    const tick = (): void => {
      current ??= (async () => { if (await instance.lead()) await task() })()
        .catch((error: unknown) => { fastify.log.error({ err: error, sweep: name }, 'sweep failed') })
        .finally(() => { running.delete(current!); current = undefined })
      running.add(current)
    }
    const timer = setInterval(tick, intervalMs)
    timer.unref()
    timers.push(timer)
    if (now) tick()
  }

  /**
   * Links whose issue lease its holder left: its process is gone (its instance lock was
   * released) or it stopped renewing. Resumed at once, in parallel: the new holder looks the
   * intent up first, so a create the old holder got to Dojo is adopted, not repeated.
   */
  async function takeOver (): Promise<void> {
    const abandoned = await findAbandonedLeases(db, 32)
    await Promise.all(abandoned.map(async (lease) => {
      try {
        const state = await issuer.resume(lease.linkId)
        fastify.log.info({ linkId: lease.linkId, status: state?.status }, 'took over a link its lease holder left')
      } catch (error) {
        fastify.log.warn({ err: error, linkId: lease.linkId }, 'taking over a link failed; next sweep tries again')
      } finally {
        // The left lease itself, if nobody took it (the link had its outcome already).
        await deleteLease(db, lease).catch(() => {})
      }
    }))
  }

  /** Links stuck in `requested` without a lease (a crash, a Dojo outage) or issued with an unsent e-mail; then expired Idempotency-Keys. */
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
    const opens = await issuer.flushOpens()
    if (opens > 0) fastify.log.info({ links: opens }, 'counts of opens published')
    // Bounded per sweep; safe on any replica (the batches skip each other's rows).
    const pruned = await pruneIdempotencyKeys(db, { ttlHours: config.IDEMPOTENCY_KEY_TTL_HOURS })
    if (pruned > 0) fastify.log.info({ pruned }, 'expired idempotency keys deleted')
  }

  /**
   * Reminders due under the merchants' policies, oldest first, one at a time: found through the
   * read model's index, each checked again on the link's events and claimed before it is sent.
   */
  async function sendReminders (): Promise<void> {
    if (mailer === undefined) return
    const now = new Date()
    let sent = 0
    for (const due of await findDueReminders(db, now, config.REMINDER_BATCH)) {
      try {
        if (await issuer.remind(due.linkId, due.policy, now) !== undefined) sent++
      } catch (error) {
        fastify.log.warn({ err: error, linkId: due.linkId, reminder: due.reminder }, 'reminder failed; next sweep tries again')
      }
    }
    if (sent > 0) fastify.log.info({ sent }, 'reminders sent')
  }

  fastify.addHook('onReady', async () => {
    readModel.start()
    reusable.subscriber.start()
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
      replicas: streamReplicas(config),
      concurrency: config.ORDERS_CONCURRENCY,
      maxAttempts: config.ORDERS_MAX_ATTEMPTS,
      retryDelayMs: config.ORDERS_RETRY_DELAY_MS,
      ackWaitMs: createBudgetMs + 5000,
      log: fastify.log
    })
    // A restarted instance resumes the links its predecessor left at once, not after an interval.
    every('takeover', config.RECOVERY_TAKEOVER_INTERVAL_MS, takeOver, true)
    every('recovery', config.RECOVERY_INTERVAL_MS, recover)
    every('reminders', config.REMINDER_SWEEP_MS, sendReminders)
    every('reusable-holds', config.REUSABLE_SWEEP_MS, async () => {
      const ended = await reusable.endHolds()
      if (ended > 0) fastify.log.info({ ended }, 'reusable link holds ended')
    })
  })

  // Drain in order: stop taking orders and sweeping, let handlers settle, then close connections.
  fastify.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer)
    await orders?.stop()
    await Promise.all(running)
    await issuer.close()
    await readModel.stop()
    await reusable.subscriber.stop()
    await merchants.close()
    mailer?.close()
    await messaging.close()
    await store.close()
  })
}
