import { sql, type Kysely } from 'kysely'
import { createApiKey, type MerchantTables, type SecretBox } from '@paylinks/merchants'
import type { Db } from './tables.js'

export const CONSOLE_KEY_LABEL = 'console'

/**
 * The partner API key the console acts with for a merchant (label `console`), created on first
 * use and kept sealed in console.merchant_keys; cached in memory once read. Its creation holds a
 * transaction lock per merchant, so requests (or replicas) that find none at once make one key.
 */
export interface MerchantKeys {
  /** The key to call the services with for this merchant. */
  keyFor: (merchantId: string) => Promise<string>
  /** The id of that key (hidden from the API-keys page), if it was made. */
  consoleKeyId: (merchantId: string) => Promise<string | undefined>
}

export function createMerchantKeys (db: Db, box: SecretBox): MerchantKeys {
  const cache = new Map<string, { key: string, keyId: string }>()
  const read = async (merchantId: string): Promise<{ key: string, keyId: string } | undefined> => {
    const cached = cache.get(merchantId)
    if (cached !== undefined) return cached
    const row = await db.selectFrom('console.merchant_keys').select(['key_id', 'sealed_key']).where('merchant_id', '=', merchantId).executeTakeFirst()
    if (row === undefined) return undefined
    const found = { key: box.decrypt(row.sealed_key), keyId: row.key_id }
    cache.set(merchantId, found)
    return found
  }
  return {
    async keyFor (merchantId) {
      const known = await read(merchantId)
      if (known !== undefined) return known.key
      await db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${`console.merchant_keys:${merchantId}`}))`.execute(trx)
        const stored = await trx.selectFrom('console.merchant_keys').select('key_id').where('merchant_id', '=', merchantId).executeTakeFirst()
        if (stored !== undefined) return
        const made = await createApiKey(trx as unknown as Kysely<MerchantTables>, { merchantId, label: CONSOLE_KEY_LABEL })
        await trx.insertInto('console.merchant_keys').values({ merchant_id: merchantId, key_id: made.info.keyId, sealed_key: box.encrypt(made.key) }).execute()
      })
      return (await read(merchantId))!.key
    },
    async consoleKeyId (merchantId) {
      const row = await db.selectFrom('console.merchant_keys').select('key_id').where('merchant_id', '=', merchantId).executeTakeFirst()
      return row?.key_id
    }
  }
}
