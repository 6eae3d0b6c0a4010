import { createHash } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { defineEvent } from './registry.js'
import { DateTimeSchema } from './primitives.js'

// Crypto-shredding: a customer's personal data travels in events sealed under a key of that
// customer's own (kept outside the log); destroying the key erases the data from every reader
// without rewriting the log.

/** `cus_` + url-safe characters: one customer of one merchant (the subject of an erasure). */
export const CustomerIdSchema = Type.String({ pattern: '^cus_[A-Za-z0-9_-]{10,64}$', description: 'Customer id (per merchant)' })

/**
 * A customer's personal data as it is sealed: contact details and the personal metadata fields
 * (see `isPersonalMetadataKey`).
 */
export const PersonalDataSchema = Type.Object({
  email: Type.Optional(Type.String({ maxLength: 254 })),
  phone: Type.Optional(Type.String({ maxLength: 50 })),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  metadata: Type.Optional(Type.Record(Type.String({ maxLength: 40 }), Type.String({ maxLength: 500 }), { maxProperties: 20 }))
}, { additionalProperties: false })
export type PersonalData = Static<typeof PersonalDataSchema>

/**
 * Where an event names a customer: the customer's id and either `sealed` (base64url of
 * IV ‖ ciphertext ‖ tag of the JSON `PersonalData`, AES-256-GCM under the customer's key) or,
 * only for events recorded before sealing existed (upcast from `payment-link.requested` v1),
 * `plain`: that data is in the log in clear and an erasure can only hide it from readers.
 */
export const CustomerRefSchema = Type.Union([
  Type.Object({ id: CustomerIdSchema, sealed: Type.String({ minLength: 20, maxLength: 8192 }) }, { additionalProperties: false }),
  Type.Object({ id: CustomerIdSchema, plain: PersonalDataSchema }, { additionalProperties: false })
])
export type CustomerRef = Static<typeof CustomerRefSchema>

// The rule for metadata: a key is personal when, lower-cased and stripped of everything but
// letters, and of a leading "customer", it is one of these. Such fields are sealed with the
// customer's data; every other key travels in clear (keep personal data out of other keys).
const PERSONAL_METADATA_KEYS = new Set([
  'email', 'emailaddress', 'mail', 'phone', 'phonenumber', 'mobile', 'tel', 'telephone',
  'name', 'firstname', 'lastname', 'fullname', 'surname', 'givenname',
  'address', 'addressline', 'street', 'postcode', 'postalcode', 'zip', 'zipcode',
  'dob', 'dateofbirth', 'birthdate'
])

/** True when a metadata key holds personal data (and so is sealed with the customer's data). */
export function isPersonalMetadataKey (key: string): boolean {
  const letters = key.toLowerCase().replace(/[^a-z]/g, '')
  return PERSONAL_METADATA_KEYS.has(letters) || (letters.startsWith('customer') && PERSONAL_METADATA_KEYS.has(letters.slice('customer'.length)))
}

/** Metadata split into what is personal and what may travel in clear. */
export function splitMetadata (metadata: Record<string, string> | undefined): { personal?: Record<string, string>, rest?: Record<string, string> } {
  if (metadata === undefined) return {}
  const personal: Record<string, string> = {}
  const rest: Record<string, string> = {}
  for (const [k, v] of Object.entries(metadata)) (isPersonalMetadataKey(k) ? personal : rest)[k] = v
  return {
    ...(Object.keys(personal).length === 0 ? {} : { personal }),
    ...(Object.keys(rest).length === 0 ? {} : { rest })
  }
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** How a customer is recognised across a merchant's links: e-mail (lower-cased) first, else phone (digits). */
export function customerLookupFor (merchantId: string, personal: { email?: string | undefined, phone?: string | undefined }): string | undefined {
  if (personal.email !== undefined && personal.email.trim() !== '') return digest(`${merchantId}\u0000email\u0000${personal.email.trim().toLowerCase()}`)
  const digits = personal.phone?.replace(/[^\d+]/g, '')
  if (digits !== undefined && digits !== '') return digest(`${merchantId}\u0000phone\u0000${digits}`)
  return undefined
}

/**
 * The customer id of a link whose personal data was recorded in clear (v1), or of a link whose
 * customer has no e-mail or phone: from the lookup, else from the link. Derived, so every
 * reader of the old events finds the same id.
 */
export function derivedCustomerId (merchantId: string, linkId: string, personal: { email?: string | undefined, phone?: string | undefined }): string {
  return `cus_${digest(customerLookupFor(merchantId, personal) ?? `${merchantId}\u0000link\u0000${linkId}`).slice(0, 22)}`
}

/** True when there is any personal data at all. */
export function hasPersonalData (personal: PersonalData): boolean {
  return personal.email !== undefined || personal.phone !== undefined || personal.name !== undefined || personal.metadata !== undefined
}

/** The stream of a customer's own facts (its erasure). */
export const customerStream = (customerId: string): string => `customer.${customerId}`

/**
 * A customer's key was destroyed: every personal field sealed under it reads as erased from now
 * on (and clear v1 fields of that customer are hidden). No personal data in it. Producer: link-issuer.
 */
export const CustomerErased = defineEvent('customer.erased', Type.Object({
  customerId: CustomerIdSchema,
  merchantId: Type.String({ pattern: '^mer_[A-Za-z0-9_-]{6,64}$' }),
  erasedAt: DateTimeSchema,
  links: Type.Integer({ minimum: 0, description: 'how many links named the customer' })
}, { additionalProperties: false }))

export const customerEvents = [CustomerErased] as const
