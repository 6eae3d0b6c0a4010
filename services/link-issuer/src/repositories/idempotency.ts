import type { Db } from '../tables.js'

export interface IdempotencyClaim {
  merchantId: string
  key: string
  /** A hash of the canonical request body: the same body replays, another is refused. */
  requestHash: string
  linkId: string
}

/**
 * Claim a merchant's Idempotency-Key for a request: `claimed` the first time, `replay` when
 * the key was used with the same body, `mismatch` when with another.
 */
export async function claimIdempotencyKey (db: Db, claim: IdempotencyClaim): Promise<'claimed' | 'replay' | 'mismatch'> {
  const inserted = await db.insertInto('li_idempotency_keys')
    .values({ merchant_id: claim.merchantId, key: claim.key, request_hash: claim.requestHash, link_id: claim.linkId, created_at: undefined })
    .onConflict((oc) => oc.columns(['merchant_id', 'key']).doNothing())
    .returning('request_hash').executeTakeFirst()
  if (inserted !== undefined) return 'claimed'
  const row = await db.selectFrom('li_idempotency_keys').select('request_hash')
    .where('merchant_id', '=', claim.merchantId).where('key', '=', claim.key).executeTakeFirstOrThrow()
  return row.request_hash === claim.requestHash ? 'replay' : 'mismatch'
}
