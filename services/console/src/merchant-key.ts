import type { Kysely } from 'kysely'
import { createApiKey, revokeApiKey, type MerchantTables, type SecretBox } from '@paylinks/merchants'
import type { Db } from './tables.js'

export const CONSOLE_KEY_LABEL = 'console'

/**
 * The partner API key the console acts with for a merchant (label `console`), created on first
 * use and kept sealed in console.merchant_keys; cached in memory once read. Two replicas that
 * create one at once keep the first stored, and the loser revokes its own.
 */
export interface MerchantKeys {
  /** The key to call the services with for this merchant. */
  keyFor: (merchantId: string) => Promise<string>
  /** The id of that key (hidden from the API-keys page), if it was made. */
  consoleKeyId: (merchantId: string) => Promise<string | undefined>
}

export function createMerchantKeys (db: Db, box: SecretBox): MerchantKeys {
  const merchants = db as unknown as Kysely<MerchantTables>
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
      const made = await createApiKey(merchants, { merchantId, label: CONSOLE_KEY_LABEL })
      const inserted = await db.insertInto('console.merchant_keys').values({ merchant_id: merchantId, key_id: made.info.keyId, sealed_key: box.encrypt(made.key) })
        .onConflict((oc) => oc.column('merchant_id').doNothing()).returning('key_id').executeTakeFirst()
      if (inserted === undefined) await revokeApiKey(merchants, made.info.keyId)
      return (await read(merchantId))!.key
    },
    async consoleKeyId (merchantId) {
      const row = await db.selectFrom('console.merchant_keys').select('key_id').where('merchant_id', '=', merchantId).executeTakeFirst()
      return row?.key_id
    }
  }
}
