import { Type, type Static } from '@sinclair/typebox'
import { defineEvent } from './registry.js'
import { DateTimeSchema, MoneySchema } from './primitives.js'
import { CustomerSchema, MerchantIdSchema, MetadataSchema, ReferenceSchema } from './payment-links.js'

/**
 * An order from an upstream order system, published on the ORDERS stream at
 * `orders.v1.<merchantId>` (JSON body; `Nats-Msg-Id` = orderId is recommended). link-issuer
 * turns it into a payment link, exactly once per (merchant, orderId).
 */
export const OrderSchema = Type.Object({
  orderId: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$' }),
  merchantId: MerchantIdSchema,
  amount: MoneySchema,
  /** Defaults to the order id. */
  reference: Type.Optional(ReferenceSchema),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  customer: Type.Optional(CustomerSchema),
  expiresAt: Type.Optional(DateTimeSchema),
  redirectUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
  metadata: Type.Optional(MetadataSchema),
  sendEmail: Type.Optional(Type.Boolean({ default: false }))
}, { additionalProperties: false, title: 'Order' })
export type Order = Static<typeof OrderSchema>

/** The subject an order system publishes a merchant's orders on. */
export const orderSubject = (prefix: string, merchantId: string): string => `${prefix}.v1.${merchantId}`

/**
 * The stream of an order that never became a link. `orderKey` must be a single subject token
 * (link-issuer derives it from merchant and order id).
 */
export const orderStream = (orderKey: string): string => `order.${orderKey}`

/** An order that can never become a link: invalid, unknown merchant, reference taken. */
export const OrderRejected = defineEvent('order.rejected', Type.Object({
  orderId: Type.String({ minLength: 1, maxLength: 200 }),
  merchantId: Type.Optional(Type.String({ maxLength: 100 })),
  reason: Type.String({ maxLength: 2000 }),
  problems: Type.Array(Type.String({ maxLength: 500 }), { maxItems: 20 })
}, { additionalProperties: false }))

export const orderEvents = [OrderRejected] as const
