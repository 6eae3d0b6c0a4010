import { createDojoClient, type DojoClient } from '@paylinks/dojo-client'
import { getMerchant, getMerchantDojoKey, type Merchant, type SecretBox } from '@paylinks/merchants'
import { merchantDb, type Db } from './tables.js'

export interface MerchantDirectory {
  /** The merchant (cached for `ttlMs`), or undefined. */
  get: (merchantId: string) => Promise<Merchant | undefined>
  /** A Dojo client with the merchant's own key (decrypted once per `ttlMs`, never logged). */
  dojo: (merchant: Merchant) => Promise<DojoClient>
  close: () => Promise<void>
}

/** Merchants and their Dojo clients, cached briefly: a settings change is seen within `ttlMs`. */
export function createMerchantDirectory (options: { db: Db, box: SecretBox, timeoutMs: number, retries: number, retryDelayMs: number, ttlMs?: number }): MerchantDirectory {
  const ttl = options.ttlMs ?? 5000
  const merchants = new Map<string, { value: Merchant | undefined, until: number }>()
  const clients = new Map<string, { client: DojoClient, fingerprint: string, until: number }>()
  return {
    async get (merchantId) {
      const hit = merchants.get(merchantId)
      if (hit !== undefined && hit.until > Date.now()) return hit.value
      const value = await getMerchant(merchantDb(options.db), merchantId)
      merchants.set(merchantId, { value, until: Date.now() + ttl })
      return value
    },
    async dojo (merchant) {
      const fingerprint = `${merchant.dojoBaseUrl}|${merchant.dojoKeyLast4}`
      const hit = clients.get(merchant.id)
      if (hit !== undefined && hit.fingerprint === fingerprint && hit.until > Date.now()) return hit.client
      const secretKey = await getMerchantDojoKey(merchantDb(options.db), options.box, merchant.id)
      const client = createDojoClient({ baseUrl: merchant.dojoBaseUrl, secretKey, timeoutMs: options.timeoutMs, retries: options.retries, retryDelayMs: options.retryDelayMs })
      // The replaced client may have calls in flight: let them finish rather than abort them.
      clients.set(merchant.id, { client, fingerprint, until: Date.now() + ttl * 12 })
      return client
    },
    async close () {
      await Promise.all([...clients.values()].map(async ({ client }) => { await client.close() }))
      clients.clear()
    }
  }
}
