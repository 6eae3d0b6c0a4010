import { randomBytes } from 'node:crypto'
import type { Kysely, Selectable } from 'kysely'
import { createDojoClient, isDojoError } from '@paylinks/dojo-client'
import { MerchantError, MerchantErrorCodes } from './errors.js'
import type { SecretBox } from './secret-box.js'
import type { MerchantsTable, MerchantTables } from './tables.js'

/** A merchant as the rest of the system sees it: never the Dojo key itself. */
export interface Merchant {
  id: string
  name: string
  dojoBaseUrl: string
  dojoEnvironment: 'sandbox' | 'production'
  /** The last four characters of the Dojo secret key, to tell keys apart. */
  dojoKeyLast4: string
  defaultRedirectUrl: string | null
  linkExpiryHours: number
  /** The customer of an expired or canceled link may ask for a fresh one (default off). */
  allowRenewal: boolean
  createdAt: string
}

export interface NewMerchant {
  name: string
  dojoSecretKey: string
  dojoBaseUrl: string
  defaultRedirectUrl?: string
  linkExpiryHours?: number
  /** Given only to make a known merchant (the demo one); otherwise generated. */
  id?: string
}

type Db = Kysely<MerchantTables>

function toMerchant (row: Selectable<MerchantsTable>): Merchant {
  return {
    id: row.id,
    name: row.name,
    dojoBaseUrl: row.dojo_base_url,
    dojoEnvironment: row.dojo_environment,
    dojoKeyLast4: row.dojo_secret_key_last4,
    defaultRedirectUrl: row.default_redirect_url,
    linkExpiryHours: row.link_expiry_hours,
    allowRenewal: row.allow_renewal,
    createdAt: row.created_at.toISOString()
  }
}

/** A merchant id: `mer_` + 16 url-safe random characters. */
export function newMerchantId (): string {
  return `mer_${randomBytes(12).toString('base64url')}`
}

function checkDojoSettings (secretKey: string, baseUrl: string): 'sandbox' | 'production' {
  try {
    // The client refuses a production key against an emulator and the reverse: reuse its rule.
    return createDojoClient({ baseUrl, secretKey }).environment
  } catch (error) {
    if (isDojoError(error, 'DOJO_CONFIG')) throw new MerchantError(MerchantErrorCodes.invalid, error.message, { cause: error })
    throw error
  }
}

/** Create a merchant; its Dojo key is checked against the base URL and sealed before storage. */
export async function createMerchant (db: Db, box: SecretBox, input: NewMerchant): Promise<Merchant> {
  const environment = checkDojoSettings(input.dojoSecretKey, input.dojoBaseUrl)
  if (input.defaultRedirectUrl !== undefined && !/^https?:\/\//.test(input.defaultRedirectUrl)) {
    throw new MerchantError(MerchantErrorCodes.invalid, 'defaultRedirectUrl must be an http(s) URL')
  }
  const row = await db.insertInto('merchants').values({
    id: input.id ?? newMerchantId(),
    name: input.name,
    dojo_base_url: input.dojoBaseUrl.replace(/\/+$/, ''),
    dojo_environment: environment,
    dojo_secret_key_enc: box.encrypt(input.dojoSecretKey),
    dojo_secret_key_last4: input.dojoSecretKey.slice(-4),
    default_redirect_url: input.defaultRedirectUrl ?? null,
    ...(input.linkExpiryHours === undefined ? {} : { link_expiry_hours: input.linkExpiryHours })
  }).returningAll().executeTakeFirstOrThrow()
  return toMerchant(row)
}

/** The merchant, or undefined. */
export async function getMerchant (db: Db, id: string): Promise<Merchant | undefined> {
  const row = await db.selectFrom('merchants').selectAll().where('id', '=', id).executeTakeFirst()
  return row === undefined ? undefined : toMerchant(row)
}

export async function listMerchants (db: Db): Promise<Merchant[]> {
  const rows = await db.selectFrom('merchants').selectAll().orderBy('created_at').execute()
  return rows.map(toMerchant)
}

/** The merchant's Dojo secret key, decrypted: pass it to the Dojo client, never to a log. */
export async function getMerchantDojoKey (db: Db, box: SecretBox, id: string): Promise<string> {
  const row = await db.selectFrom('merchants').select('dojo_secret_key_enc').where('id', '=', id).executeTakeFirst()
  if (row === undefined) throw new MerchantError(MerchantErrorCodes.notFound, `no merchant ${id}`)
  return box.decrypt(row.dojo_secret_key_enc)
}

/** Change a merchant's settings (and re-seal its Dojo key if a new one is given). */
export async function updateMerchant (db: Db, box: SecretBox, id: string, changes: Partial<Omit<NewMerchant, 'id'>>): Promise<Merchant> {
  const current = await db.selectFrom('merchants').selectAll().where('id', '=', id).executeTakeFirst()
  if (current === undefined) throw new MerchantError(MerchantErrorCodes.notFound, `no merchant ${id}`)
  const baseUrl = changes.dojoBaseUrl ?? current.dojo_base_url
  const key = changes.dojoSecretKey ?? box.decrypt(current.dojo_secret_key_enc)
  const environment = checkDojoSettings(key, baseUrl)
  const row = await db.updateTable('merchants').set({
    ...(changes.name === undefined ? {} : { name: changes.name }),
    dojo_base_url: baseUrl.replace(/\/+$/, ''),
    dojo_environment: environment,
    ...(changes.dojoSecretKey === undefined ? {} : { dojo_secret_key_enc: box.encrypt(key), dojo_secret_key_last4: key.slice(-4) }),
    ...(changes.defaultRedirectUrl === undefined ? {} : { default_redirect_url: changes.defaultRedirectUrl }),
    ...(changes.linkExpiryHours === undefined ? {} : { link_expiry_hours: changes.linkExpiryHours }),
    updated_at: new Date()
  }).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
  return toMerchant(row)
}

/** Let (or stop) the customers of the merchant's expired or canceled links ask for a fresh link. */
export async function setMerchantRenewal (db: Db, id: string, allow: boolean): Promise<Merchant> {
  const row = await db.updateTable('merchants').set({ allow_renewal: allow, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirst()
  if (row === undefined) throw new MerchantError(MerchantErrorCodes.notFound, `no merchant ${id}`)
  return toMerchant(row)
}
