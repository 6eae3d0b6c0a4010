import { Type, type Static } from '@sinclair/typebox'
import { DateTimeSchema, MoneySchema, UuidSchema } from './primitives.js'
import { LinkIdSchema, LinkStatusSchema, MerchantIdSchema, PaymentIntentIdSchema, ReferenceSchema } from './payment-links.js'

/**
 * Integration events: the stable, versioned contract order systems subscribe to, published from
 * recorded events on `<prefix>.v1.<kind>.<merchantId>` (default prefix `paylinks`) with the
 * source event's id as `Nats-Msg-Id`. Internal events may change; these change only by a new
 * version on a new subject. `payment.status-changed` is also sent when only the money moved (a
 * second partial refund or capture: `status` equals `previousStatus`).
 */
export const IntegrationSubjects = {
  linkIssued: 'link.issued',
  orderRejected: 'order.rejected',
  paymentStatusChanged: 'payment.status-changed'
} as const
export type IntegrationKind = typeof IntegrationSubjects[keyof typeof IntegrationSubjects]

export const integrationSubject = (prefix: string, kind: IntegrationKind, merchantId: string): string => `${prefix}.v1.${kind}.${merchantId}`

const Envelope = {
  /** The id of the recorded event this was published from: de-duplicate on it. */
  id: UuidSchema,
  /** The position of that event in the log: increases along a link's history. */
  position: Type.Integer({ minimum: 1 }),
  occurredAt: DateTimeSchema,
  version: Type.Literal(1)
}

export const LinkIssuedV1Schema = Type.Object({
  ...Envelope,
  type: Type.Literal('link.issued'),
  linkId: LinkIdSchema,
  merchantId: MerchantIdSchema,
  orderId: Type.Optional(Type.String()),
  reference: ReferenceSchema,
  url: Type.String({ format: 'uri' }),
  paymentIntentId: PaymentIntentIdSchema,
  amount: MoneySchema,
  expiresAt: DateTimeSchema
}, { additionalProperties: false, title: 'LinkIssuedV1' })
export type LinkIssuedV1 = Static<typeof LinkIssuedV1Schema>

export const OrderRejectedV1Schema = Type.Object({
  ...Envelope,
  type: Type.Literal('order.rejected'),
  orderId: Type.String(),
  merchantId: Type.Optional(Type.String()),
  reason: Type.String(),
  problems: Type.Array(Type.String())
}, { additionalProperties: false, title: 'OrderRejectedV1' })
export type OrderRejectedV1 = Static<typeof OrderRejectedV1Schema>

export const PaymentStatusChangedV1Schema = Type.Object({
  ...Envelope,
  type: Type.Literal('payment.status-changed'),
  linkId: LinkIdSchema,
  merchantId: MerchantIdSchema,
  orderId: Type.Optional(Type.String()),
  reference: ReferenceSchema,
  previousStatus: LinkStatusSchema,
  status: LinkStatusSchema,
  amount: MoneySchema,
  refundedAmount: Type.Integer({ minimum: 0 }),
  /** Minor units captured so far (added with refunds and captures; absent from older messages). */
  capturedAmount: Type.Optional(Type.Integer({ minimum: 0 }))
}, { additionalProperties: false, title: 'PaymentStatusChangedV1' })
export type PaymentStatusChangedV1 = Static<typeof PaymentStatusChangedV1Schema>
