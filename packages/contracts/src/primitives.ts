import { Type, type Static } from '@sinclair/typebox'

/** A UUID, as used for event ids and correlation ids. */
export const UuidSchema = Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' })

/** An ISO 8601 date-time with an offset, e.g. 2026-11-27T12:00:00.000Z. */
export const DateTimeSchema = Type.String({ format: 'date-time', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' })

/** Money is an integer count of the currency's minor units (pence, cents): never a float. */
export const MinorUnitsSchema = Type.Integer({ minimum: 1, maximum: 99_999_999_999, description: 'Amount in minor units (e.g. 1050 is 10.50 GBP).' })

/** The currencies Dojo takes for payment intents. */
export const CurrencyCodeSchema = Type.Union([Type.Literal('GBP'), Type.Literal('EUR')], { description: 'ISO 4217 currency code.' })
export type CurrencyCode = Static<typeof CurrencyCodeSchema>

export const MoneySchema = Type.Object({
  value: MinorUnitsSchema,
  currencyCode: CurrencyCodeSchema
}, { additionalProperties: false })
export type Money = Static<typeof MoneySchema>

/**
 * A stream is one aggregate's history, named `<category>.<id>` (e.g. `payment-link.lnk_01H…`).
 * It maps to exactly one NATS subject, so both parts are single subject tokens.
 */
export const StreamIdSchema = Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}\\.[A-Za-z0-9_-]{1,128}$', description: 'Stream id: <category>.<id>' })

/** Event types read `<category>.<what happened>`, lower-case, e.g. `payment-link.issued`. */
export const EventTypeSchema = Type.String({ pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+$', maxLength: 120 })
