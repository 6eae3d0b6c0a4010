import { sql } from 'kysely'
import type { Db } from '../tables.js'

/**
 * Delete Idempotency-Keys older than `ttlHours`, `batchSize` rows per statement and at most
 * `maxBatches` statements per call; the number deleted. Safe on every replica at once: each
 * batch skips the rows another replica is deleting.
 */
export async function pruneIdempotencyKeys (db: Db, options: { ttlHours: number, batchSize?: number, maxBatches?: number }): Promise<number> {
  const batchSize = options.batchSize ?? 1000
  const maxBatches = options.maxBatches ?? 10
  let deleted = 0
  for (let batch = 0; batch < maxBatches; batch++) {
    const result = await sql`
      DELETE FROM li_idempotency_keys WHERE (merchant_id, key) IN (
        SELECT merchant_id, key FROM li_idempotency_keys
        WHERE created_at < now() - ${`${options.ttlHours} hours`}::interval
        LIMIT ${batchSize} FOR UPDATE SKIP LOCKED
      )`.execute(db)
    const n = Number(result.numAffectedRows ?? 0n)
    deleted += n
    if (n < batchSize) break
  }
  return deleted
}
