import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import DataLoader from 'dataloader'
import { sql, type Kysely } from 'kysely'
import {
  customerLookupFor, derivedCustomerId, hasPersonalData, PersonalDataSchema, type CustomerRef, type PersonalData
} from '@paylinks/contracts'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { MerchantError, MerchantErrorCodes } from './errors.js'
import type { SecretBox } from './secret-box.js'
import type { MerchantTables } from './tables.js'

type Db = Kysely<MerchantTables>

/** What a reader gets for a customer whose key was destroyed. */
export interface Erased { erased: true }

export interface CustomerKeys {
  /**
   * Seal a link's personal data under its customer's key (created on first use): the customer
   * of the e-mail, else of the phone, else one of its own for the link. Undefined when there is
   * nothing personal, or when the link's own customer was erased already (a replayed request).
   */
  seal: (merchantId: string, linkId: string, personal: PersonalData) => Promise<CustomerRef | undefined>
  /** The personal data of an event's customer, or `{ erased: true }` once its key is destroyed. */
  open: (merchantId: string, ref: CustomerRef) => Promise<PersonalData | Erased>
  /** Drop what this process remembers of these customers (after erasing them here). */
  forget: (customerIds: readonly string[]) => void
}

interface KeyRow { subject_id: string, merchant_id: string, lookup: string | null, sealed_key: string | null, erased_at: Date | null }
/** A customer's key as remembered: the key, or null once erased (or never known). */
interface Known { merchantId: string | null, key: Buffer | null, until: number }

const checkPersonal = TypeCompiler.Compile(PersonalDataSchema)

function encrypt (key: Buffer, customerId: string, personal: PersonalData): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  // The customer id as associated data: a sealed blob moved under another customer fails to open.
  cipher.setAAD(Buffer.from(customerId))
  const body = Buffer.concat([cipher.update(JSON.stringify(personal), 'utf8'), cipher.final()])
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')
}

function decrypt (key: Buffer, customerId: string, sealed: string): PersonalData {
  try {
    const data = Buffer.from(sealed, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12))
    decipher.setAAD(Buffer.from(customerId))
    decipher.setAuthTag(data.subarray(data.length - 16))
    const plain: unknown = JSON.parse(Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]).toString('utf8'))
    if (!checkPersonal.Check(plain)) throw new Error('not personal data')
    return plain
  } catch (error) {
    throw new MerchantError(MerchantErrorCodes.decrypt, `personal data of ${customerId} failed authentication: tampered or wrong key`, { cause: error })
  }
}

/**
 * Customers' data keys (table `pii_keys`): one random AES-256-GCM key per customer, stored sealed
 * with the secret box, never in clear. Keys are created and read in one statement per event-loop
 * turn (a burst of links costs one round trip), and remembered for `cacheMs` (at most
 * `maxEntries`): an erasure on another replica takes effect there within `cacheMs`.
 */
export function createCustomerKeys (options: { db: Db, box: SecretBox, cacheMs?: number, maxEntries?: number }): CustomerKeys {
  const { db, box } = options
  const cacheMs = options.cacheMs ?? 2000
  const maxEntries = options.maxEntries ?? 10_000
  const known = new Map<string, Known>()

  function remember (row: KeyRow): Known {
    const entry: Known = { merchantId: row.merchant_id, key: row.sealed_key === null || row.erased_at !== null ? null : Buffer.from(box.decrypt(row.sealed_key), 'base64'), until: Date.now() + cacheMs }
    known.delete(row.subject_id)
    if (known.size >= maxEntries) known.delete(known.keys().next().value!)
    known.set(row.subject_id, entry)
    return entry
  }

  const readKeys = new DataLoader<string, Known>(async (ids) => {
    const rows = await db.selectFrom('pii_keys').select(['subject_id', 'merchant_id', 'lookup', 'sealed_key', 'erased_at'])
      .where('subject_id', '=', sql<string>`ANY(${[...new Set(ids)]}::text[])`).execute()
    const byId = new Map(rows.map((r) => [r.subject_id, r]))
    return ids.map((id) => {
      const row = byId.get(id)
      return row === undefined ? { merchantId: null, key: null, until: Date.now() + cacheMs } : remember(row)
    })
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: (dispatch) => { setImmediate(dispatch) } })

  async function keyOf (customerId: string): Promise<Known> {
    const hit = known.get(customerId)
    if (hit !== undefined && hit.until > Date.now()) return hit
    return await readKeys.load(customerId)
  }

  // Get or create the keys asked for in one turn: one INSERT … ON CONFLICT DO NOTHING that also
  // returns the rows that were there; only a row committed by a racing replica meanwhile needs
  // the second read.
  interface Want { merchantId: string, lookup: string | null, subjectId: string }
  const wantKeys = new DataLoader<Want, KeyRow, string>(async (wants) => {
    const inputs = wants.map((w) => ({ ...w, sealedKey: box.encrypt(randomBytes(32).toString('base64')) }))
    const select = async (): Promise<KeyRow[]> => (await sql<KeyRow>`
      WITH input AS (
        SELECT * FROM unnest(${inputs.map((i) => i.subjectId)}::text[], ${inputs.map((i) => i.merchantId)}::text[], ${inputs.map((i) => i.lookup)}::text[], ${inputs.map((i) => i.sealedKey)}::text[])
          AS i(subject_id, merchant_id, lookup, sealed_key)),
      ins AS (
        INSERT INTO pii_keys (subject_id, merchant_id, lookup, sealed_key) SELECT subject_id, merchant_id, lookup, sealed_key FROM input
        ON CONFLICT DO NOTHING RETURNING subject_id, merchant_id, lookup, sealed_key, erased_at)
      SELECT * FROM ins
      UNION ALL
      SELECT k.subject_id, k.merchant_id, k.lookup, k.sealed_key, k.erased_at FROM pii_keys k JOIN input i
        ON (i.lookup IS NOT NULL AND k.merchant_id = i.merchant_id AND k.lookup = i.lookup AND k.erased_at IS NULL) OR (i.lookup IS NULL AND k.subject_id = i.subject_id)`.execute(db)).rows
    const match = (rows: KeyRow[]): Array<KeyRow | undefined> => wants.map((w) => rows.find((r) => w.lookup === null
      ? r.subject_id === w.subjectId
      : r.merchant_id === w.merchantId && r.lookup === w.lookup && r.erased_at === null))
    let found = match(await select())
    if (found.includes(undefined)) found = match(await select())
    return found.map((row, i) => row ?? new MerchantError(MerchantErrorCodes.invalid, `no key for customer ${wants[i]!.subjectId}`))
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: (dispatch) => { setImmediate(dispatch) }, cacheKeyFn: (w) => `${w.merchantId}\u0000${w.lookup ?? w.subjectId}` })

  return {
    async seal (merchantId, linkId, personal) {
      if (!hasPersonalData(personal)) return undefined
      const lookup = customerLookupFor(merchantId, personal) ?? null
      const subjectId = lookup === null ? derivedCustomerId(merchantId, linkId, {}) : `cus_${randomBytes(16).toString('base64url')}`
      const row = await wantKeys.load({ merchantId, lookup, subjectId })
      const entry = remember(row)
      if (entry.key === null) return undefined
      return { id: row.subject_id, sealed: encrypt(entry.key, row.subject_id, personal) }
    },
    async open (merchantId, ref) {
      const entry = await keyOf(ref.id)
      if ('plain' in ref) {
        // Recorded in clear before sealing existed: hidden once the customer is marked erased.
        return entry.merchantId === merchantId && entry.key === null ? { erased: true } : ref.plain
      }
      if (entry.key === null || entry.merchantId !== merchantId) return { erased: true }
      return decrypt(entry.key, ref.id, ref.sealed)
    },
    forget (customerIds) {
      for (const id of customerIds) known.delete(id)
    }
  }
}

/** Who to erase: a customer id, or the customer of an e-mail or a phone number. */
export type ErasureSubject = { customerId: string } | { email: string } | { phone: string }

/** What an erasure did. */
export interface Erasure {
  customerIds: string[]
  erasedAt: Date
  /** How many of the merchant's links named the customer. */
  links: number
}

/**
 * Erase a merchant's customer: destroy its data key (and the e-mail/phone lookup), so every
 * reader shows its personal data as erased; the event log is not touched. Links recorded in
 * clear (v1) of that customer get an erased marker under their derived id, so readers hide them.
 * Undefined when the merchant has no such customer. Erasing again answers the same customer.
 */
export async function eraseCustomer (db: Db, merchantId: string, subject: ErasureSubject): Promise<Erasure | undefined> {
  return await db.transaction().execute(async (trx) => {
    const erasedAt = new Date()
    let ids: string[]
    if ('customerId' in subject) {
      const rows = await trx.updateTable('pii_keys').set({ sealed_key: null, lookup: null, erased_at: sql<Date>`coalesce(erased_at, now())` })
        .where('merchant_id', '=', merchantId).where('subject_id', '=', subject.customerId).returning('subject_id').execute()
      ids = rows.map((r) => r.subject_id)
    } else {
      const lookup = customerLookupFor(merchantId, subject)!
      const rows = await trx.updateTable('pii_keys').set({ sealed_key: null, lookup: null, erased_at: erasedAt })
        .where('merchant_id', '=', merchantId).where('lookup', '=', lookup).where('erased_at', 'is', null).returning('subject_id').execute()
      ids = rows.map((r) => r.subject_id)
    }
    // Links recorded in clear (v1): their customer id is derived from what they recorded.
    const legacyId = 'customerId' in subject ? subject.customerId : derivedCustomerId(merchantId, '', subject)
    const v1 = await sql<{ link_id: string, customer: { email?: string, phone?: string } }>`
      SELECT data->>'linkId' AS link_id, data->'customer' AS customer FROM es_events
      WHERE type = 'payment-link.requested' AND schema_version = 1 AND data->>'merchantId' = ${merchantId} AND data ? 'customer'`.execute(trx)
    const legacyLinks = v1.rows.filter((r) => derivedCustomerId(merchantId, r.link_id, r.customer) === legacyId).length
    if (legacyLinks > 0 && !ids.includes(legacyId)) {
      await trx.insertInto('pii_keys').values({ subject_id: legacyId, merchant_id: merchantId, lookup: null, sealed_key: null, erased_at: erasedAt })
        .onConflict((oc) => oc.column('subject_id').doUpdateSet({ sealed_key: null, lookup: null, erased_at: sql<Date>`coalesce(pii_keys.erased_at, now())` }).where('pii_keys.merchant_id', '=', merchantId)).execute()
      ids.push(legacyId)
    }
    if (ids.length === 0) return undefined
    const v2 = await sql<{ n: string }>`
      SELECT count(*) AS n FROM es_events
      WHERE type = 'payment-link.requested' AND schema_version >= 2 AND data->>'merchantId' = ${merchantId} AND data->'customer'->>'id' = ANY(${ids}::text[])`.execute(trx)
    return { customerIds: ids, erasedAt, links: Number(v2.rows[0]?.n ?? 0) + legacyLinks }
  })
}
