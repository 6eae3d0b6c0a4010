import { createHash, randomBytes } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'
import { sql, type Selectable } from 'kysely'
import type { Db, Role, TokensTable, UsersTable } from './tables.js'

/** A staff member as the API shows them: never the hash. */
export interface User { id: string, merchantId: string, email: string, name: string, role: Role, createdAt: string }

export const ROLES: readonly Role[] = ['owner', 'staff', 'viewer']

const toUser = (row: Selectable<UsersTable>): User =>
  ({ id: row.id, merchantId: row.merchant_id, email: row.email, name: row.name, role: row.role, createdAt: row.created_at.toISOString() })

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest()
const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`

/** The password rule every form applies: a message, or undefined when it is acceptable. */
export function passwordProblem (password: string): string | undefined {
  if (password.length < 10) return 'Use at least 10 characters for the password.'
  if (password.length > 200) return 'Use at most 200 characters for the password.'
  return undefined
}

/** argon2id with the library's defaults (OWASP's minimum: 19 MiB, 2 passes). */
export async function hashPassword (password: string): Promise<string> {
  return await hash(password)
}

// Verified against when the e-mail is unknown, so both answers take the same time.
let dummyHash: Promise<string> | undefined

/** The active user with this e-mail and password, or undefined (wrong either way). */
export async function verifyLogin (db: Db, email: string, password: string): Promise<User | undefined> {
  const row = await db.selectFrom('console.users').selectAll().where(sql`lower(email)`, '=', email.trim().toLowerCase()).where('disabled_at', 'is', null).executeTakeFirst()
  if (row === undefined) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'))
    await verify(await dummyHash, password).catch(() => false)
    return undefined
  }
  return await verify(row.password_hash, password) ? toUser(row) : undefined
}

/** An active user of the system, by id. */
export async function getUser (db: Db, id: string): Promise<User | undefined> {
  const row = await db.selectFrom('console.users').selectAll().where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst()
  return row === undefined ? undefined : toUser(row)
}

/** A merchant's active users, oldest first. */
export async function listUsers (db: Db, merchantId: string): Promise<User[]> {
  const rows = await db.selectFrom('console.users').selectAll().where('merchant_id', '=', merchantId).where('disabled_at', 'is', null).orderBy('created_at').execute()
  return rows.map(toUser)
}

/** Whether an active user already has this e-mail (anywhere: e-mails are unique). */
export async function emailTaken (db: Db, email: string): Promise<boolean> {
  const row = await db.selectFrom('console.users').select('id').where(sql`lower(email)`, '=', email.trim().toLowerCase()).where('disabled_at', 'is', null).executeTakeFirst()
  return row !== undefined
}

export interface Token { id: string, token: string, expiresAt: string }
export interface Invite { id: string, email: string, name: string | null, role: Role, merchantId: string, expiresAt: string }

const toInvite = (row: Selectable<TokensTable>): Invite =>
  ({ id: row.id, email: row.email, name: row.name, role: row.role!, merchantId: row.merchant_id, expiresAt: row.expires_at.toISOString() })

/** A single-use random token (256 bits); only its SHA-256 is stored. */
async function createToken (db: Db, values: Omit<TokensTable, 'id' | 'token_hash' | 'used_at' | 'created_at'>): Promise<Token> {
  const token = randomBytes(32).toString('base64url')
  const id = newId(values.kind === 'invite' ? 'inv' : 'rst')
  await db.insertInto('console.tokens').values({ ...values, id, token_hash: sha256(token) }).execute()
  return { id, token, expiresAt: values.expires_at.toISOString() }
}

/** The unused, unexpired token of that kind, or undefined. */
async function findToken (db: Db, kind: 'invite' | 'reset', token: string): Promise<Selectable<TokensTable> | undefined> {
  return await db.selectFrom('console.tokens').selectAll().where('token_hash', '=', sha256(token)).where('kind', '=', kind)
    .where('used_at', 'is', null).where('expires_at', '>', new Date()).executeTakeFirst()
}

/** Invite someone to a merchant's console with a role; the token goes in the e-mailed URL. */
export async function createInvite (db: Db, input: { merchantId: string, email: string, name?: string, role: Role, ttlMs: number }): Promise<Token> {
  return await createToken(db, { kind: 'invite', merchant_id: input.merchantId, email: input.email.trim(), name: input.name ?? null, role: input.role, user_id: null, expires_at: new Date(Date.now() + input.ttlMs) })
}

/** The open invite a token names, or undefined when it is unknown, used or expired. */
export async function findInvite (db: Db, token: string): Promise<Invite | undefined> {
  const row = await findToken(db, 'invite', token)
  return row === undefined ? undefined : toInvite(row)
}

/** A merchant's open invites, newest first. */
export async function listInvites (db: Db, merchantId: string): Promise<Invite[]> {
  const rows = await db.selectFrom('console.tokens').selectAll().where('merchant_id', '=', merchantId).where('kind', '=', 'invite')
    .where('used_at', 'is', null).where('expires_at', '>', new Date()).orderBy('created_at', 'desc').execute()
  return rows.map(toInvite)
}

/** Withdraw an open invite of the merchant; false when there was none. */
export async function revokeInvite (db: Db, merchantId: string, inviteId: string): Promise<boolean> {
  const r = await db.updateTable('console.tokens').set({ used_at: new Date() }).where('id', '=', inviteId).where('merchant_id', '=', merchantId)
    .where('kind', '=', 'invite').where('used_at', 'is', null).executeTakeFirst()
  return r.numUpdatedRows === 1n
}

export type AcceptResult = { ok: true, user: User } | { ok: false, reason: 'expired' | 'taken' }

/** Use an invite once: the account is created with the invite's e-mail and role. */
export async function acceptInvite (db: Db, token: string, input: { name: string, password: string }): Promise<AcceptResult> {
  const passwordHash = await hashPassword(input.password)
  return await db.transaction().execute(async (trx) => {
    const used = await trx.updateTable('console.tokens').set({ used_at: new Date() }).where('token_hash', '=', sha256(token)).where('kind', '=', 'invite')
      .where('used_at', 'is', null).where('expires_at', '>', new Date()).returningAll().executeTakeFirst()
    if (used === undefined) return { ok: false, reason: 'expired' } as const
    if (await emailTaken(trx, used.email)) return { ok: false, reason: 'taken' } as const
    const row = await trx.insertInto('console.users').values({
      id: newId('usr'), merchant_id: used.merchant_id, email: used.email, name: input.name.trim(), role: used.role!, password_hash: passwordHash
    }).returningAll().executeTakeFirstOrThrow()
    return { ok: true, user: toUser(row) } as const
  })
}

/** A reset token for the active account with this e-mail, or undefined when there is none. */
export async function createReset (db: Db, email: string, ttlMs: number): Promise<(Token & { user: User }) | undefined> {
  const row = await db.selectFrom('console.users').selectAll().where(sql`lower(email)`, '=', email.trim().toLowerCase()).where('disabled_at', 'is', null).executeTakeFirst()
  if (row === undefined) return undefined
  const token = await createToken(db, { kind: 'reset', merchant_id: row.merchant_id, email: row.email, name: null, role: null, user_id: row.id, expires_at: new Date(Date.now() + ttlMs) })
  return { ...token, user: toUser(row) }
}

/** Use a reset token once: the new password, and every session of the user ends. */
export async function completeReset (db: Db, token: string, password: string): Promise<User | undefined> {
  const passwordHash = await hashPassword(password)
  return await db.transaction().execute(async (trx) => {
    const used = await trx.updateTable('console.tokens').set({ used_at: new Date() }).where('token_hash', '=', sha256(token)).where('kind', '=', 'reset')
      .where('used_at', 'is', null).where('expires_at', '>', new Date()).returning('user_id').executeTakeFirst()
    if (used?.user_id == null) return undefined
    const row = await trx.updateTable('console.users').set({ password_hash: passwordHash }).where('id', '=', used.user_id).where('disabled_at', 'is', null).returningAll().executeTakeFirst()
    if (row === undefined) return undefined
    await endSessions(trx, row.id)
    return toUser(row)
  })
}

/**
 * Create a merchant's owner with a password, or give the existing account of that e-mail (of
 * the same merchant) that password and the owner role: what `pnpm start` does for its demo owner.
 */
export async function setOwnerPassword (db: Db, input: { merchantId: string, email: string, name: string, password: string }): Promise<User> {
  const passwordHash = await hashPassword(input.password)
  return await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('console.users').selectAll().where(sql`lower(email)`, '=', input.email.trim().toLowerCase()).where('disabled_at', 'is', null).forUpdate().executeTakeFirst()
    if (existing !== undefined && existing.merchant_id !== input.merchantId) throw new Error(`${input.email} is a user of another merchant`)
    if (existing !== undefined) {
      const row = await trx.updateTable('console.users').set({ password_hash: passwordHash, role: 'owner' }).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow()
      await endSessions(trx, row.id)
      return toUser(row)
    }
    const row = await trx.insertInto('console.users').values({ id: newId('usr'), merchant_id: input.merchantId, email: input.email.trim(), name: input.name, role: 'owner', password_hash: passwordHash })
      .returningAll().executeTakeFirstOrThrow()
    return toUser(row)
  })
}

/** End every session of a user (password reset, removal). */
export async function endSessions (db: Db, userId: string): Promise<void> {
  await db.deleteFrom('console.sessions').where('user_id', '=', userId).execute()
}

export type StaffChange = { ok: true, user?: User } | { ok: false, reason: 'not-found' | 'last-owner' }

/**
 * Change a user's role, or remove them (role undefined), within their merchant. The merchant's
 * owners are locked first, so two owners demoting each other at once cannot leave none.
 */
export async function changeStaff (db: Db, merchantId: string, userId: string, role: Role | undefined): Promise<StaffChange> {
  return await db.transaction().execute(async (trx) => {
    const owners = await trx.selectFrom('console.users').select('id').where('merchant_id', '=', merchantId).where('role', '=', 'owner')
      .where('disabled_at', 'is', null).forUpdate().execute()
    const target = await trx.selectFrom('console.users').selectAll().where('id', '=', userId).where('merchant_id', '=', merchantId)
      .where('disabled_at', 'is', null).executeTakeFirst()
    if (target === undefined) return { ok: false, reason: 'not-found' } as const
    if (target.role === 'owner' && role !== 'owner' && owners.length <= 1) return { ok: false, reason: 'last-owner' } as const
    if (role === undefined) {
      await trx.updateTable('console.users').set({ disabled_at: new Date() }).where('id', '=', userId).execute()
      await endSessions(trx, userId)
      return { ok: true } as const
    }
    const row = await trx.updateTable('console.users').set({ role }).where('id', '=', userId).returningAll().executeTakeFirstOrThrow()
    return { ok: true, user: toUser(row) } as const
  })
}
