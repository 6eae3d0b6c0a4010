import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import { onTeardown, roleUrl, type TestContext } from '@paylinks/test-kit'
import { setOwnerPassword, type User } from '../src/accounts.js'
import app from '../src/app.js'
import { ConsoleConfigSchema } from '../src/config.js'
import type { ConsoleTables, Db, Role } from '../src/tables.js'

export const SECRETS_KEY = randomBytes(32).toString('base64')

/** A staff member's browser: the session cookie and CSRF token kept between requests. */
export interface Browser {
  csrf: string
  cookie: string | undefined
  /** A request as the web app sends it (JSON, cookie, `x-csrf-token` on writes). */
  request: (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number, body: any, headers: Record<string, string | string[] | number | undefined>, text: string }>
  /** GET /console/api/session: refreshes the CSRF token. */
  session: () => Promise<any>
  signIn: (email: string, password: string) => Promise<{ status: number, body: any, headers: Record<string, string | string[] | number | undefined> }>
}

export function browser (app: FastifyInstance): Browser {
  const b: Browser = {
    csrf: '',
    cookie: undefined,
    async request (method, path, body, headers = {}) {
      const response = await app.inject({
        method,
        url: path,
        headers: {
          ...(b.cookie === undefined ? {} : { cookie: b.cookie }),
          ...(method === 'GET' ? {} : { 'x-csrf-token': b.csrf }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) })
      })
      const set = response.cookies.find((c) => c.name === 'pl_console')
      if (set !== undefined) b.cookie = set.value === '' ? undefined : `pl_console=${set.value}`
      const type = String(response.headers['content-type'] ?? '')
      return { status: response.statusCode, body: /json/.test(type) && response.body !== '' ? response.json() : undefined, headers: response.headers, text: response.body }
    },
    async session () {
      const r = await b.request('GET', '/console/api/session')
      b.csrf = r.body.csrfToken
      return r.body
    },
    async signIn (email, password) {
      if (b.csrf === '') await b.session()
      const r = await b.request('POST', '/console/api/session', { email, password })
      if (r.status === 200) b.csrf = r.body.csrfToken
      return r
    }
  }
  return b
}

export interface ConsoleWorld {
  app: FastifyInstance
  /** The owner's view of the database, for assertions. */
  db: Db
  url: string
  merchantId: string
  env: Record<string, string>
  /** A user of the merchant with this role and password, made directly. */
  user: (role: Role, options?: { merchantId?: string, password?: string }) => Promise<User & { password: string }>
  merchant: (name: string) => Promise<string>
}

/** The console on a migrated test database, under its own role, with a merchant. */
export async function buildConsole (t: TestContext, env: Record<string, string> = {}, database?: string): Promise<ConsoleWorld> {
  const url = database ?? (await createMigratedTestDatabase(t)).url
  const db = createDatabase<ConsoleTables>({ connectionString: url, max: 2 })
  onTeardown(t, () => db.destroy())
  const merchant = async (name: string): Promise<string> =>
    (await createMerchant(db as unknown as Kysely<MerchantTables>, createSecretBox([SECRETS_KEY]), { name, dojoSecretKey: `sk_sandbox_${randomBytes(12).toString('hex')}`, dojoBaseUrl: 'http://127.0.0.1:9' })).id
  const merchantId = await merchant('Corner Café')
  const fullEnv = {
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.console),
    SECRETS_ENCRYPTION_KEYS: SECRETS_KEY,
    LINK_ISSUER_URL: 'http://127.0.0.1:9',
    PROJECTOR_URL: 'http://127.0.0.1:9',
    WEBHOOK_DISPATCH_URL: 'http://127.0.0.1:9',
    CONSOLE_PUBLIC_URL: 'http://console.paylinks.test',
    MIGRATE_ON_START: 'false',
    UPSTREAM_RETRIES: '1',
    LOG_LEVEL: 'warn',
    ...env
  }
  const config = loadConfig(ConsoleConfigSchema, fullEnv)
  const fastify = Fastify(serverOptions(config))
  await fastify.register(app, { config })
  await fastify.ready()
  onTeardown(t, () => fastify.close())
  let n = 0
  return {
    app: fastify,
    db,
    url,
    merchantId,
    env: fullEnv,
    merchant,
    user: async (role, options = {}) => {
      const password = options.password ?? `pw-${randomBytes(8).toString('hex')}`
      const email = `${role}-${++n}-${randomBytes(3).toString('hex')}@shop.example`
      const user = await setOwnerPassword(db, { merchantId: options.merchantId ?? merchantId, email, name: `${role} ${n}`, password })
      if (role !== 'owner') await db.updateTable('console.users').set({ role }).where('id', '=', user.id).execute()
      return { ...user, role, password }
    }
  }
}
