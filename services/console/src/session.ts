import { createHmac } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import session from '@fastify/session'
import { ServiceError } from '@paylinks/service-kit'
import { getUser, type User } from './accounts.js'
import { ConsoleErrorCodes } from './errors.js'
import { createSessionStore } from './session-store.js'
import type { Db, Role } from './tables.js'

declare module 'fastify' {
  interface Session {
    userId?: string
    _csrf?: string
  }
  interface FastifyRequest {
    /** The signed-in staff member, set by `signedIn`. */
    user: User | null
  }
}

export const COOKIE_NAME = 'pl_console'
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const RANK: Record<Role, number> = { viewer: 0, staff: 1, owner: 2 }

export interface SessionOptions {
  db: Db
  /** Base64 keys (SECRETS_ENCRYPTION_KEYS): the cookie-signing secrets are derived from them, first signs. */
  keys: string[]
  ttlMs: number
  secure: boolean
}

/**
 * Server-side sessions in Postgres (cookie `pl_console`: HttpOnly, SameSite=Lax, Secure behind
 * https) and CSRF tokens bound to them: every POST/PUT/PATCH/DELETE under /console/api must
 * carry `x-csrf-token`, or is refused with 403 CONSOLE_CSRF before anything else runs.
 */
export const consoleSession = fp(async function consoleSession (app: FastifyInstance, options: SessionOptions) {
  const store = createSessionStore(options.db, options.ttlMs)
  await app.register(cookie)
  await app.register(session, {
    cookieName: COOKIE_NAME,
    // One secret per configured key, so rotating SECRETS_ENCRYPTION_KEYS keeps sessions valid.
    secret: options.keys.map((k) => createHmac('sha256', Buffer.from(k, 'base64')).update('paylinks console session cookie').digest('hex')),
    store,
    saveUninitialized: false,
    rolling: true,
    cookie: { path: '/console', httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: options.ttlMs }
  })
  await app.register(csrf, { sessionPlugin: '@fastify/session', getToken: (req) => req.headers['x-csrf-token'] as string | undefined, logLevel: 'info' })
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request) => {
    if (!UNSAFE.has(request.method) || !request.url.startsWith('/console/api/')) return
    await new Promise<void>((resolve, reject) => {
      app.csrfProtection(request, { send: reject } as any, () => { resolve() })
    }).catch(() => {
      throw new ServiceError(ConsoleErrorCodes.csrf, 403, 'The form is out of date or was not sent by the console: reload the page and try again.')
    })
  })
  const timer = setInterval(() => { store.prune().catch((error: unknown) => { app.log.warn({ err: error }, 'pruning expired sessions failed') }) }, 10 * 60_000)
  timer.unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'console.session' })

/** Load the signed-in user; null when signed out (the session ended, or the user was removed). */
export async function currentUser (db: Db, request: FastifyRequest): Promise<User | null> {
  const id = request.session.userId
  if (id === undefined) return null
  const user = await getUser(db, id) ?? null
  if (user === null) request.session.userId = undefined
  return user
}

/** A preHandler: 401 CONSOLE_SIGNED_OUT without a session, 403 CONSOLE_FORBIDDEN below `role`. */
export function requireRole (db: Db, role: Role) {
  return async function requireSignedIn (request: FastifyRequest): Promise<void> {
    const user = await currentUser(db, request)
    if (user === null) throw new ServiceError(ConsoleErrorCodes.signedOut, 401, 'Sign in to continue.')
    if (RANK[user.role] < RANK[role]) throw new ServiceError(ConsoleErrorCodes.forbidden, 403, `Only ${role === 'owner' ? 'an owner' : 'staff and owners'} may do this.`)
    request.user = user
  }
}
