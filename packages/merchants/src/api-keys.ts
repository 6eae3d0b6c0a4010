import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { MerchantTables } from './tables.js'

type Db = Kysely<MerchantTables>

export type ApiKeyScope = 'merchant' | 'analyst'

/** Who a presented key belongs to. */
export interface ApiKeyPrincipal {
  keyId: string
  scope: ApiKeyScope
  /** The merchant a merchant key may act for; null for an analyst key (reads every merchant). */
  merchantId: string | null
}

export interface ApiKeyInfo extends ApiKeyPrincipal {
  label: string
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

const KEY_FORMAT = /^plk_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{43})$/

const hash = (secret: string): Buffer => createHash('sha256').update(secret).digest()

/**
 * Create an API key. The returned `key` is shown once and never stored: only the SHA-256 of its
 * secret part is. Format: `plk_<16-char id>_<43-char secret>` (256 random bits).
 */
export async function createApiKey (db: Db, options: { merchantId: string, label?: string } | { scope: 'analyst', label?: string }): Promise<{ key: string, info: ApiKeyInfo }> {
  const id = randomBytes(12).toString('base64url')
  const secret = randomBytes(32).toString('base64url')
  const merchantId = 'merchantId' in options ? options.merchantId : null
  const row = await db.insertInto('api_keys').values({
    id,
    merchant_id: merchantId,
    scope: merchantId === null ? 'analyst' : 'merchant',
    secret_hash: hash(secret),
    label: options.label ?? ''
  }).returningAll().executeTakeFirstOrThrow()
  return {
    key: `plk_${id}_${secret}`,
    info: { keyId: row.id, scope: row.scope, merchantId: row.merchant_id, label: row.label, createdAt: row.created_at.toISOString(), lastUsedAt: null, revokedAt: null }
  }
}

/**
 * Who a presented key (from `Authorization: Bearer …`) belongs to, or undefined for a malformed,
 * unknown or revoked key. The hash comparison runs in constant time.
 */
export async function authenticateApiKey (db: Db, presented: string): Promise<ApiKeyPrincipal | undefined> {
  const match = KEY_FORMAT.exec(presented)
  if (match === null) return undefined
  const row = await db.selectFrom('api_keys').select(['id', 'scope', 'merchant_id', 'secret_hash', 'revoked_at', 'last_used_at'])
    .where('id', '=', match[1]!).executeTakeFirst()
  if (row === undefined || row.revoked_at !== null) return undefined
  if (!timingSafeEqual(row.secret_hash, hash(match[2]!))) return undefined
  // Record use at most once a minute per key, so authentication stays a read.
  if (row.last_used_at === null || Date.now() - row.last_used_at.getTime() > 60_000) {
    await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', row.id).execute()
  }
  return { keyId: row.id, scope: row.scope, merchantId: row.merchant_id }
}

/** Revoke a key: it stops working at once. Returns false when there was no such active key. */
export async function revokeApiKey (db: Db, keyId: string): Promise<boolean> {
  const result = await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', keyId).where('revoked_at', 'is', null).executeTakeFirst()
  return result.numUpdatedRows === 1n
}

/** A merchant's keys (or the analyst keys, for null), newest first; never their secrets. */
export async function listApiKeys (db: Db, merchantId: string | null): Promise<ApiKeyInfo[]> {
  const rows = await db.selectFrom('api_keys').select(['id', 'scope', 'merchant_id', 'label', 'created_at', 'last_used_at', 'revoked_at'])
    .where('merchant_id', merchantId === null ? 'is' : '=', merchantId).orderBy('created_at', 'desc').execute()
  return rows.map((r) => ({
    keyId: r.id,
    scope: r.scope,
    merchantId: r.merchant_id,
    label: r.label,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null
  }))
}
