import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { User } from './accounts.js'
import type { ConsoleConfig } from './config.js'
import type { ConsoleMailer } from './mailer.js'
import type { SessionBody } from './schemas.js'
import { currentUser } from './session.js'
import type { Db } from './tables.js'
import type { Upstream } from './upstream.js'
import type { MerchantKeys } from './merchant-key.js'

/** What every route folder of the console is given. */
export interface ConsoleContext {
  db: Db
  config: ConsoleConfig
  /** Where staff reach the console, no trailing slash: links in e-mails start with it. */
  publicUrl: string
  mailer: ConsoleMailer | undefined
  upstream: Upstream
  merchantKeys: MerchantKeys
  log: FastifyBaseLogger
}

/** A merchant's trading name (the merchants table's name). */
export async function merchantName (db: Db, merchantId: string): Promise<string> {
  const row = await db.selectFrom('merchants').select('name').where('id', '=', merchantId).executeTakeFirst()
  return row?.name ?? merchantId
}

/** The body of GET /console/api/session for this request, with a CSRF token for its session. */
export async function sessionBody (db: Db, request: FastifyRequest, reply: FastifyReply, known?: User): Promise<SessionBody> {
  const user = known ?? await currentUser(db, request)
  return {
    user: user === null ? null : { id: user.id, email: user.email, name: user.name, role: user.role },
    merchant: user === null ? null : { id: user.merchantId, tradingName: await merchantName(db, user.merchantId) },
    csrfToken: reply.generateCsrf()
  }
}
