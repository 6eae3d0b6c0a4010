import type { FastifyInstance } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { sql } from 'kysely'
import { createDatabase, migrateOnStart } from '@paylinks/event-store'
import { createSecretBox, encryptionKeys } from '@paylinks/merchants'
import { serviceKit } from '@paylinks/service-kit'
import type { ConsoleConfig } from './config.js'
import type { ConsoleContext } from './context.js'
import { createConsoleMailer } from './mailer.js'
import { createMerchantKeys } from './merchant-key.js'
import sessionRoutes from './routes/session.js'
import staffRoutes from './routes/staff.js'
import linkRoutes from './routes/links.js'
import ownerRoutes from './routes/owner.js'
import { consoleSession } from './session.js'
import type { ConsoleTables } from './tables.js'
import { createUpstream } from './upstream.js'
import webApp from './web.js'

export interface AppOptions {
  config: ConsoleConfig
}

/**
 * The merchant console's server as a Fastify plugin: staff accounts and sessions in its own
 * schema, and a JSON API under /console/api that acts for the signed-in merchant through the
 * services' own HTTP APIs (it keeps no link state). The web app is served under /console/.
 */
export default async function app (fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  await fastify.register(serviceKit, {
    name: 'console',
    description: 'The merchant console\'s JSON API: staff sign in with a session cookie and send `x-csrf-token` on every write. A client of link-issuer, the projector and webhook-dispatch.',
    ...(config.CONSOLE_PUBLIC_URL === undefined ? {} : { publicUrl: config.CONSOLE_PUBLIC_URL }),
    securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'pl_console', description: 'The session cookie set by POST /console/api/session.' } }
  })
  const db = createDatabase<ConsoleTables>({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'console' })
  fastify.addHook('onClose', async () => { await db.destroy() })
  if (config.MIGRATE_ON_START) await migrateOnStart(db, config)
  fastify.readiness.add('postgres', async () => await sql`SELECT 1`.execute(db))
  const keys = encryptionKeys(config)
  const box = createSecretBox(keys)
  const mailer = config.SMTP_URL === undefined ? undefined : createConsoleMailer({ url: config.SMTP_URL, from: config.MAIL_FROM, timeoutMs: config.SMTP_TIMEOUT_MS })
  fastify.addHook('onClose', async () => { mailer?.close() })
  const upstream = createUpstream({
    urls: { 'link-issuer': config.LINK_ISSUER_URL, projector: config.PROJECTOR_URL, 'webhook-dispatch': config.WEBHOOK_DISPATCH_URL },
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    retries: config.UPSTREAM_RETRIES
  })
  const publicUrl = (config.CONSOLE_PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/+$/, '')
  const ctx: ConsoleContext = { db, config, publicUrl, mailer, upstream, merchantKeys: createMerchantKeys(db, box), log: fastify.log }

  await fastify.register(rateLimit, { global: false })
  await fastify.register(consoleSession, { db, keys, ttlMs: config.SESSION_TTL_HOURS * 3_600_000, secure: publicUrl.startsWith('https://') })
  await fastify.register(async (api) => {
    await api.register(sessionRoutes, ctx)
    await api.register(staffRoutes, ctx)
    await api.register(linkRoutes, ctx)
    await api.register(ownerRoutes, ctx)
  }, { prefix: '/console/api' })
  await fastify.register(webApp)
}
