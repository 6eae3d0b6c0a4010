import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { MerchantTables } from './tables.js'

type Db = Kysely<MerchantTables>

/** An order system's NATS user: it may publish its merchant's orders only. */
export interface NatsCredentialInfo {
  user: string
  merchantId: string
  label: string
  createdAt: string
  revokedAt: string | null
}

/** A user name that says whose it is: `ord_<merchantId>_<8 random chars>`. */
export function newNatsCredentialUser (merchantId: string): string {
  return `ord_${merchantId}_${randomBytes(6).toString('base64url')}`
}

/**
 * Store a credential for a merchant's order system. The caller hashes the password (bcrypt, as
 * nats-server checks it) and shows it once; it is never stored.
 */
export async function createNatsCredential (db: Db, options: { user: string, merchantId: string, passwordHash: string, label?: string }): Promise<NatsCredentialInfo> {
  const row = await db.insertInto('nats_credentials').values({
    nats_user: options.user,
    merchant_id: options.merchantId,
    password_hash: options.passwordHash,
    label: options.label ?? ''
  }).returningAll().executeTakeFirstOrThrow()
  return toInfo(row)
}

/** Revoke a credential. Returns false when there was no such active credential. */
export async function revokeNatsCredential (db: Db, user: string): Promise<boolean> {
  const result = await db.updateTable('nats_credentials').set({ revoked_at: new Date() }).where('nats_user', '=', user).where('revoked_at', 'is', null).executeTakeFirst()
  return result.numUpdatedRows === 1n
}

/** A merchant's credentials (or every merchant's), newest first; never a hash. */
export async function listNatsCredentials (db: Db, merchantId?: string): Promise<NatsCredentialInfo[]> {
  let query = db.selectFrom('nats_credentials').select(['nats_user', 'merchant_id', 'label', 'created_at', 'revoked_at'])
  if (merchantId !== undefined) query = query.where('merchant_id', '=', merchantId)
  return (await query.orderBy('created_at', 'desc').execute()).map(toInfo)
}

/** What the NATS server's configuration needs: every active credential with its hash. */
export async function activeNatsCredentials (db: Db): Promise<Array<{ user: string, merchantId: string, passwordHash: string }>> {
  const rows = await db.selectFrom('nats_credentials').select(['nats_user', 'merchant_id', 'password_hash'])
    .where('revoked_at', 'is', null).orderBy('nats_user').execute()
  return rows.map((r) => ({ user: r.nats_user, merchantId: r.merchant_id, passwordHash: r.password_hash }))
}

function toInfo (r: { nats_user: string, merchant_id: string, label: string, created_at: Date, revoked_at: Date | null }): NatsCredentialInfo {
  return { user: r.nats_user, merchantId: r.merchant_id, label: r.label, createdAt: r.created_at.toISOString(), revokedAt: r.revoked_at?.toISOString() ?? null }
}
