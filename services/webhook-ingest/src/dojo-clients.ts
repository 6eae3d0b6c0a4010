import type { Kysely } from 'kysely'
import { createDojoClient, type DojoClient } from '@paylinks/dojo-client'
import { getMerchant, getMerchantDojoKey, type MerchantTables, type SecretBox } from '@paylinks/merchants'
import { IngestError, IngestErrorCodes } from './errors.js'

export interface DojoClients {
  /** The merchant's client (its own key, decrypted only here), kept for `ttlMs`. */
  forMerchant: (merchantId: string) => Promise<DojoClient>
  close: () => Promise<void>
}

/** One Dojo client per merchant, with our timeouts and retries; re-read after `ttlMs` (key changes). */
export function createDojoClients (options: { db: Kysely<MerchantTables>, box: SecretBox, timeoutMs: number, retries: number, retryDelayMs?: number, ttlMs?: number }): DojoClients {
  const clients = new Map<string, { client: DojoClient, at: number }>()
  const retired: DojoClient[] = []
  const ttl = options.ttlMs ?? 300_000
  return {
    async forMerchant (merchantId) {
      const hit = clients.get(merchantId)
      if (hit !== undefined && Date.now() - hit.at < ttl) return hit.client
      const merchant = await getMerchant(options.db, merchantId)
      if (merchant === undefined) throw new IngestError(IngestErrorCodes.unknownMerchant, `no merchant ${merchantId}`)
      const client = createDojoClient({
        baseUrl: merchant.dojoBaseUrl,
        secretKey: await getMerchantDojoKey(options.db, options.box, merchantId),
        timeoutMs: options.timeoutMs,
        retries: options.retries,
        ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs })
      })
      // A replaced client may have calls in flight: close it at shutdown, not now.
      if (hit !== undefined) retired.push(hit.client)
      clients.set(merchantId, { client, at: Date.now() })
      return client
    },
    async close () {
      await Promise.all([...retired, ...[...clients.values()].map((c) => c.client)].map(async (c) => { await c.close() }))
      clients.clear()
    }
  }
}
