import type { FastifyInstance } from 'fastify'
import { sql, type Transaction } from 'kysely'
import { createEventRegistry, domainEvents, is, PaymentLinkIssued } from '@paylinks/contracts'
import { createDatabase, createEventStore, createStoreSubscriber, migrateOnStart } from '@paylinks/event-store'
import { createSecretBox, encryptionKeys } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions, natsCredentials } from '@paylinks/messaging'
import { serviceKit } from '@paylinks/service-kit'
import type { IngestConfig } from './config.js'
import { createConfirmLimiter } from './confirm-limiter.js'
import { createConfirmer, type Confirmer } from './confirmer.js'
import { createDojoClients } from './dojo-clients.js'
import { createLinkDirectory } from './link-directory.js'
import { applyEvents } from './links.js'
import { ingestMetrics } from './metrics.js'
import { createReceiver, type Receiver } from './receiver.js'
import { createReconciler, type Reconciler } from './reconciler.js'
import { webhookRoutes } from './routes/webhooks.js'
import { createSubscriptions, type Subscriptions } from './subscriptions.js'
import { asMerchantDb, type Tables } from './tables.js'

export interface AppOptions {
  config: IngestConfig
  /** Hands out the service's parts (operations scripts, tests): the plugin's decorators stay inside it. */
  expose?: (ingest: WebhookIngest) => void
}

export interface WebhookIngest {
  subscriptions: Subscriptions
  receiver: Receiver
  confirmer: Confirmer
  reconciler: Reconciler
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's parts, for operations and tests. */
    webhookIngest: WebhookIngest
  }
}

const WATCHED = [
  'payment-link.issued', 'payment-link.status-changed', 'payment-link.canceled', 'payment-link.webhook-received',
  'payment-link.captured', 'payment-link.refunded', 'payment-link.released'
] as const

/**
 * webhook-ingest as a Fastify plugin: the Dojo webhook endpoint, and behind it the store
 * subscriber (intent → link map, confirmation queue), the confirmation worker, the reconciler
 * and subscription management. Background work starts when the server is ready, drains on close.
 */
export default async function app (fastify: FastifyInstance, { config, expose }: AppOptions): Promise<void> {
  await fastify.register(serviceKit, { name: 'webhook-ingest', description: 'Verified, durable, idempotent Dojo webhooks; status confirmation; reconciliation.', publicUrl: config.PUBLIC_URL })

  const db = createDatabase<Tables>({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'webhook-ingest', log: fastify.log })
  fastify.addHook('onClose', async () => { await db.destroy() })
  if (config.MIGRATE_ON_START) await migrateOnStart(db, config)

  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'webhook-ingest', log: fastify.log, ...natsCredentials(config) })
  fastify.addHook('onClose', async () => { await messaging.close() })
  await ensureStream(messaging.jsm, eventsStreamOptions(config))
  const registry = createEventRegistry(domainEvents)
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry })
  // The store reads through the service's one pool; it adds only its LISTEN connection.
  const store = await createEventStore({ connectionString: config.DATABASE_URL, db, registry, pollIntervalMs: 500, applicationName: 'webhook-ingest', log: fastify.log })
  fastify.addHook('onClose', async () => { await store.close() })

  const box = createSecretBox(encryptionKeys(config))
  const dojo = createDojoClients({ db: asMerchantDb(db), box, timeoutMs: config.DOJO_TIMEOUT_MS, retries: config.DOJO_RETRIES })
  const subscriptions = createSubscriptions({
    db, box, publicUrl: config.PUBLIC_URL, dojoFor: dojo.forMerchant, graceMs: config.WEBHOOK_SECRET_GRACE_MS, cacheMs: config.SECRETS_CACHE_MS, log: fastify.log
  })
  const limiter = createConfirmLimiter({ targetMs: config.CONFIRM_ACCEPT_TARGET_MS, minRate: config.CONFIRM_MIN_RATE })
  fastify.addHook('onClose', async () => { limiter.close() })
  const metrics = ingestMetrics(fastify.metrics, db, limiter)
  const links = createLinkDirectory({ db })
  const receiver = createReceiver({ db, publisher, registry, links })
  const confirmer = createConfirmer({
    db,
    store,
    publisher,
    registry,
    links,
    dojoFor: dojo.forMerchant,
    concurrency: config.CONFIRM_CONCURRENCY,
    limiter,
    pollMs: config.CONFIRM_POLL_MS,
    leaseMs: config.CONFIRM_LEASE_MS,
    retryBaseMs: config.CONFIRM_RETRY_BASE_MS,
    retryMaxMs: config.CONFIRM_RETRY_MAX_MS,
    log: fastify.log,
    onIdle: async () => { await receiver.matchPending() },
    onResult: metrics.confirmation
  })
  const subscriber = createStoreSubscriber({
    store,
    name: config.SUBSCRIBER_NAME,
    lingerMs: config.SUBSCRIBER_LINGER_MS,
    types: WATCHED,
    log: fastify.log,
    handle: async (trx, events) => {
      await applyEvents(trx as unknown as Transaction<Tables>, events, { quietAfterMs: config.RECONCILE_QUIET_AFTER_MS })
      // A recorded issue is a fact whatever becomes of this transaction: its payment's webhook
      // and confirmation then find the link without a query.
      for (const e of events) if (is(e, PaymentLinkIssued)) links.remember(e.data.paymentIntentId, { linkId: e.data.linkId, merchantId: e.data.merchantId })
      // The rows commit right after this returns: look at the queue a moment later.
      if (events.some((e) => e.type === 'payment-link.webhook-received')) setTimeout(() => { confirmer.wake() }, 5).unref()
    }
  })
  const reconciler = createReconciler({
    db,
    quietAfterMs: config.RECONCILE_QUIET_AFTER_MS,
    maxIntervalMs: config.RECONCILE_MAX_INTERVAL_MS,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    batch: config.RECONCILE_BATCH,
    log: fastify.log,
    onQueued: () => { confirmer.wake() },
    onRun: metrics.reconcilerRun
  })

  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(db))
  fastify.readiness.add('nats', async () => await messaging.ping())
  const parts = { subscriptions, receiver, confirmer, reconciler }
  fastify.decorate('webhookIngest', parts)
  expose?.(parts)
  await fastify.register(webhookRoutes, { subscriptions, receiver, metrics, bodyLimit: config.WEBHOOK_BODY_LIMIT_BYTES })

  let syncTimer: NodeJS.Timeout | undefined
  let syncing: Promise<unknown> = Promise.resolve()
  let closing = false
  const syncAll = (): void => {
    syncing = subscriptions.syncAll()
      .then((r) => { fastify.log.info(r, 'webhook subscriptions checked') }, (error: unknown) => { fastify.log.warn({ err: error }, 'webhook subscription sync failed') })
      .finally(() => { if (!closing) syncTimer = setTimeout(syncAll, config.SUBSCRIPTION_SYNC_INTERVAL_MS) })
  }

  fastify.addHook('onReady', async () => {
    subscriber.start()
    confirmer.start()
    await reconciler.start()
    if (config.SUBSCRIPTION_SYNC_ON_START) syncAll()
    else syncTimer = setTimeout(syncAll, config.SUBSCRIPTION_SYNC_INTERVAL_MS)
  })
  // Drain in order: no new background work, finish what is in hand, then let go of Dojo
  // (hooks run in reverse: the store, NATS and Postgres close after this).
  fastify.addHook('onClose', async () => {
    closing = true
    clearTimeout(syncTimer)
    await reconciler.stop()
    await subscriber.stop()
    await confirmer.stop()
    await syncing
    await dojo.close()
  })
}
