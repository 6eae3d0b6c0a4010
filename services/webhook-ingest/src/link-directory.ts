import { sql, type Kysely } from 'kysely'
import type { KnownLink } from './links.js'
import type { Tables } from './tables.js'

export interface LinkDirectory {
  /** The link of an intent, if issued (and recorded); with `merchantId`, only if it is that merchant's. */
  find: (paymentIntentId: string, merchantId?: string) => Promise<KnownLink | undefined>
  /** The links of many intents, one query for those not in hand; an unknown intent is not a key. */
  findMany: (paymentIntentIds: readonly string[]) => Promise<Map<string, KnownLink>>
  /** A link seen issued (the store subscriber sees every one): later look-ups need no query. */
  remember: (paymentIntentId: string, link: KnownLink) => void
}

/**
 * intent → link, read from `wi_links` and kept: an intent's link never changes once issued, so a
 * kept entry is never stale. The endpoint and the confirmer share it; the store subscriber fills
 * it as links are issued, so a payment's webhook and its confirmation usually query nothing.
 * An intent is Dojo's id, unique across merchants (`wi_links`' key), so one map serves both.
 */
export function createLinkDirectory (options: { db: Kysely<Tables>, maxEntries?: number }): LinkDirectory {
  const { db } = options
  const maxEntries = options.maxEntries ?? 100_000
  const links = new Map<string, KnownLink>()

  function remember (paymentIntentId: string, link: KnownLink): void {
    if (links.has(paymentIntentId)) return
    // Crude but bounded: a full map starts again (each entry is one query to learn again).
    if (links.size >= maxEntries) links.clear()
    links.set(paymentIntentId, link)
  }

  return {
    remember,
    async find (paymentIntentId, merchantId) {
      let link = links.get(paymentIntentId)
      if (link === undefined) {
        const row = await db.selectFrom('wi_links').select(['link_id', 'merchant_id']).where('payment_intent_id', '=', paymentIntentId).executeTakeFirst()
        if (row === undefined) return undefined
        link = { linkId: row.link_id, merchantId: row.merchant_id }
        remember(paymentIntentId, link)
      }
      return merchantId === undefined || link.merchantId === merchantId ? link : undefined
    },
    async findMany (paymentIntentIds) {
      const found = new Map<string, KnownLink>()
      const missing: string[] = []
      for (const id of paymentIntentIds) {
        const link = links.get(id)
        if (link === undefined) missing.push(id)
        else found.set(id, link)
      }
      if (missing.length === 0) return found
      const rows = await db.selectFrom('wi_links').select(['payment_intent_id', 'link_id', 'merchant_id']).where('payment_intent_id', '=', sql<string>`ANY(${missing}::text[])`).execute()
      for (const row of rows) {
        const link = { linkId: row.link_id, merchantId: row.merchant_id }
        remember(row.payment_intent_id, link)
        found.set(row.payment_intent_id, link)
      }
      return found
    }
  }
}
