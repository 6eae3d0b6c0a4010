import { sql, type Kysely } from 'kysely'
import { isDojoError, type DojoClient, type WebhookSecret, type WebhookSubscription } from '@paylinks/dojo-client'
import { listMerchants, type SecretBox } from '@paylinks/merchants'
import { IngestError, IngestErrorCodes } from './errors.js'
import { asMerchantDb, type Tables } from './tables.js'

export const SUBSCRIBED_EVENT = 'payment_intent.status_updated'

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

/** A webhook secret as kept (sealed) in wi_subscriptions. */
interface StoredSecret {
  id: string
  value: string
  active: boolean
  /** When Dojo stopped listing it as active; it still verifies for the grace period. */
  retiredAt?: string
}

export interface SubscriptionsOptions {
  db: Kysely<Tables>
  box: SecretBox
  publicUrl: string
  dojoFor: (merchantId: string) => Promise<DojoClient>
  graceMs: number
  cacheMs: number
  log: Log
}

export interface Subscriptions {
  /** Where Dojo sends a merchant's webhooks. */
  urlFor: (merchantId: string) => string
  /** Make sure the merchant's Dojo subscription exists for our URL; store its secrets sealed. */
  sync: (merchantId: string) => Promise<{ subscriptionId: string, created: boolean, secrets: number }>
  /** `sync` every merchant; one merchant's failure does not stop the others. Skipped while another replica runs it. */
  syncAll: () => Promise<{ synced: number, failed: number, skipped: boolean }>
  /** Add a secret at Dojo, make it the active one, and keep the old one verifying for the grace period. */
  rotate: (merchantId: string) => Promise<void>
  /**
   * The secret values a delivery for this merchant may be signed with: `undefined` for an
   * unknown merchant, `[]` when it has no subscription yet. Cached for `cacheMs`; `fresh` reads
   * the database again (after a signature mismatch, at most once a second per merchant).
   */
  secretsFor: (merchantId: string, fresh?: boolean) => Promise<string[] | undefined>
}

/** Webhook subscription management, one subscription per merchant (per Dojo account). */
export function createSubscriptions (options: SubscriptionsOptions): Subscriptions {
  const { db, box, log } = options
  const cache = new Map<string, { secrets: string[] | undefined, at: number }>()
  const urlFor = (merchantId: string): string => `${options.publicUrl.replace(/\/+$/, '')}/webhooks/dojo/${merchantId}`

  async function stored (merchantId: string): Promise<StoredSecret[]> {
    const row = await db.selectFrom('wi_subscriptions').select('secrets_enc').where('merchant_id', '=', merchantId).executeTakeFirst()
    return row === undefined ? [] : JSON.parse(box.decrypt(row.secrets_enc)) as StoredSecret[]
  }

  async function findOrCreate (dojo: DojoClient, url: string): Promise<{ subscription: WebhookSubscription, created: boolean }> {
    const find = async (): Promise<WebhookSubscription | undefined> =>
      (await dojo.listWebhookSubscriptions()).find((s) => s.url === url && s.events.includes(SUBSCRIBED_EVENT))
    const existing = await find()
    if (existing !== undefined) return { subscription: existing, created: false }
    try {
      const subscription = await dojo.createWebhookSubscription({ events: [SUBSCRIBED_EVENT], url, description: 'paylinks webhook-ingest' })
      return { subscription, created: true }
    } catch (error) {
      // Not retried blindly (a second subscription would double deliveries): look first.
      if (isDojoError(error) && error.outcomeUnknown) {
        const found = await find()
        if (found !== undefined) return { subscription: found, created: true }
      }
      throw error
    }
  }

  function merge (previous: StoredSecret[], current: WebhookSecret[], now: Date): StoredSecret[] {
    const out: StoredSecret[] = current.filter((s) => s.isActive).map((s) => ({ id: s.id, value: s.value, active: true }))
    for (const old of previous) {
      if (out.some((s) => s.id === old.id)) continue
      const retiredAt = old.retiredAt ?? now.toISOString()
      if (now.getTime() - Date.parse(retiredAt) < options.graceMs) out.push({ id: old.id, value: old.value, active: false, retiredAt })
    }
    return out
  }

  /**
   * One replica at a time per merchant: two that both list, find nothing and create would give
   * the merchant two subscriptions, and every delivery twice. A transaction-scoped advisory
   * lock is held while Dojo is asked (the second waits, then lists and finds the first's).
   */
  async function sync (merchantId: string): Promise<{ subscriptionId: string, created: boolean, secrets: number }> {
    return await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('webhook-ingest.subscription'), hashtext(${merchantId}))`.execute(trx)
      return await syncLocked(merchantId)
    })
  }

  async function syncLocked (merchantId: string): Promise<{ subscriptionId: string, created: boolean, secrets: number }> {
    const url = urlFor(merchantId)
    try {
      const dojo = await options.dojoFor(merchantId)
      const { subscription, created } = await findOrCreate(dojo, url)
      const listed = await dojo.listWebhookSecrets(subscription.id)
      const secrets = merge(await stored(merchantId), listed.secrets.length > 0 ? listed.secrets : subscription.secrets, new Date())
      const sealed = box.encrypt(JSON.stringify(secrets))
      await db.insertInto('wi_subscriptions')
        .values({ merchant_id: merchantId, subscription_id: subscription.id, url, secrets_enc: sealed })
        .onConflict((oc) => oc.column('merchant_id').doUpdateSet({ subscription_id: subscription.id, url, secrets_enc: sealed, synced_at: new Date() }))
        .execute()
      cache.delete(merchantId)
      if (created) log.info({ merchantId, subscriptionId: subscription.id, url }, 'webhook subscription created')
      return { subscriptionId: subscription.id, created, secrets: secrets.length }
    } catch (error) {
      throw new IngestError(IngestErrorCodes.subscription, `webhook subscription of ${merchantId}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
  }

  return {
    urlFor,
    sync,
    async syncAll () {
      // The periodic sweep has one owner across replicas: while one runs it, the others skip it.
      // (A session lock, on one connection held for the sweep.)
      return await db.connection().execute(async (conn) => {
        let synced = 0
        let failed = 0
        const { rows } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_lock(hashtext('webhook-ingest.subscription-sweep')) AS locked`.execute(conn)
        if (rows[0]?.locked !== true) return { synced, failed, skipped: true }
        try {
          for (const merchant of await listMerchants(asMerchantDb(db))) {
            try {
              await sync(merchant.id)
              synced++
            } catch (error) {
              failed++
              log.warn({ merchantId: merchant.id, err: error }, 'webhook subscription sync failed')
            }
          }
        } finally {
          await sql`SELECT pg_advisory_unlock(hashtext('webhook-ingest.subscription-sweep'))`.execute(conn).catch(() => {})
        }
        return { synced, failed, skipped: false }
      })
    },
    async rotate (merchantId) {
      const dojo = await options.dojoFor(merchantId)
      const subscriptionId = (await sync(merchantId)).subscriptionId
      const before = new Set((await dojo.listWebhookSecrets(subscriptionId)).secrets.map((s) => s.id))
      const after = await dojo.createWebhookSecret(subscriptionId)
      const added = after.secrets.find((s) => !before.has(s.id))
      if (added === undefined) throw new IngestError(IngestErrorCodes.subscription, `Dojo did not return the new secret of ${subscriptionId}`)
      // Store the new secret before Dojo signs with it, so no delivery meets an unknown secret.
      const secrets = [...await stored(merchantId), { id: added.id, value: added.value, active: true }]
      await db.updateTable('wi_subscriptions').set({ secrets_enc: box.encrypt(JSON.stringify(secrets)) }).where('merchant_id', '=', merchantId).execute()
      cache.delete(merchantId)
      await dojo.activateWebhookSecret(subscriptionId, added.id)
      await sync(merchantId)
      log.info({ merchantId, subscriptionId, secretId: added.id }, 'webhook secret rotated')
    },
    async secretsFor (merchantId, fresh = false) {
      const hit = cache.get(merchantId)
      const now = Date.now()
      if (hit !== undefined && (now - hit.at < (fresh ? 1000 : options.cacheMs))) return hit.secrets
      const row = await db.selectFrom('merchants')
        .leftJoin('wi_subscriptions', 'wi_subscriptions.merchant_id', 'merchants.id')
        .select(['merchants.id', 'wi_subscriptions.secrets_enc'])
        .where('merchants.id', '=', merchantId).executeTakeFirst()
      let secrets: string[] | undefined
      if (row !== undefined) {
        const all = row.secrets_enc === null ? [] : JSON.parse(box.decrypt(row.secrets_enc)) as StoredSecret[]
        secrets = all.filter((s) => s.active || (s.retiredAt !== undefined && now - Date.parse(s.retiredAt) < options.graceMs)).map((s) => s.value)
      }
      if (cache.size > 10_000) cache.clear()
      cache.set(merchantId, { secrets, at: now })
      return secrets
    }
  }
}
