import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DateTimeSchema, MinorUnitsSchema, MoneySchema } from '@paylinks/contracts'

// Written from Dojo's published API facts (see README). Requests are strict, as Dojo's own
// schemas are (`additionalProperties: false`), so a mistake fails here before it is sent.
// Responses are tolerant: Dojo adds fields without a new version, and marks most as nullable,
// so only what we rely on is required and unknown fields pass through.

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Opt = <T extends TSchema>(schema: T) => Type.Optional(Nullable(schema))

// ---------------------------------------------------------------- shared

export const PaymentIntentStatusSchema = Type.Union([
  Type.Literal('Created'), Type.Literal('Authorized'), Type.Literal('Captured'),
  Type.Literal('Reversed'), Type.Literal('Refunded'), Type.Literal('Canceled')
])
export type PaymentIntentStatus = Static<typeof PaymentIntentStatusSchema>

export const CaptureModeSchema = Type.Union([Type.Literal('Auto'), Type.Literal('Manual')])
export type CaptureMode = Static<typeof CaptureModeSchema>

/** Money as Dojo returns it: integer minor units; the currency is not narrowed on the way in. */
export const DojoMoneySchema = Type.Object({ value: Type.Integer(), currencyCode: Type.String() })
export type DojoMoney = Static<typeof DojoMoneySchema>

// ---------------------------------------------------------------- requests

export const CreatePaymentIntentRequestSchema = Type.Object({
  amount: MoneySchema,
  reference: Type.String({ minLength: 1, maxLength: 60 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  captureMode: Type.Optional(CaptureModeSchema),
  expireAt: Type.Optional(DateTimeSchema),
  customer: Type.Optional(Type.Object({
    emailAddress: Type.Optional(Type.String({ maxLength: 254 })),
    phoneNumber: Type.Optional(Type.String({ maxLength: 50 }))
  }, { additionalProperties: false })),
  config: Type.Optional(Type.Object({
    title: Type.Optional(Type.String({ maxLength: 100 })),
    redirectUrl: Type.Optional(Type.String({ format: 'uri' })),
    cancelUrl: Type.Optional(Type.String({ format: 'uri' })),
    customerEmail: Type.Optional(Type.Object({ collectionRequired: Type.Boolean() }, { additionalProperties: false })),
    details: Type.Optional(Type.Object({
      showTotal: Type.Optional(Type.Boolean()),
      showReference: Type.Optional(Type.Boolean())
    }, { additionalProperties: false }))
  }, { additionalProperties: false })),
  itemLines: Type.Optional(Type.Array(Type.Object({
    id: Type.Optional(Type.String({ maxLength: 60 })),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    quantity: Type.Optional(Type.Integer({ minimum: 1 })),
    amountTotal: MoneySchema
  }, { additionalProperties: false }))),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** `"payment-links"` for payment links; Dojo shows `"api"` otherwise. */
  paymentSource: Type.Optional(Type.String({ minLength: 1 }))
}, { additionalProperties: false })
export type CreatePaymentIntentRequest = Static<typeof CreatePaymentIntentRequestSchema>

export const CaptureRequestSchema = Type.Object({ amount: MinorUnitsSchema }, { additionalProperties: false })
export type CaptureRequest = Static<typeof CaptureRequestSchema>

export const RefundRequestSchema = Type.Object({
  amount: MinorUnitsSchema,
  refundReason: Type.Optional(Type.String({ maxLength: 1024 })),
  notes: Type.Optional(Type.String({ maxLength: 4096 }))
}, { additionalProperties: false })
export type RefundRequest = Static<typeof RefundRequestSchema>

/** Sent as the `idempotencyKey` header: unique per refund of an intent; the same key replays. */
export const IdempotencyKeySchema = Type.String({ minLength: 1, maxLength: 100 })

export const SearchPaymentIntentsRequestSchema = Type.Object({
  statuses: Type.Optional(Type.Array(PaymentIntentStatusSchema)),
  startDate: Type.Optional(DateTimeSchema),
  endDate: Type.Optional(DateTimeSchema),
  cursor: Type.Optional(Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    before: Type.Optional(Type.String({ minLength: 1 })),
    after: Type.Optional(Type.String({ minLength: 1 }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })
export type SearchPaymentIntentsRequest = Static<typeof SearchPaymentIntentsRequestSchema>

const WebhookUrlSchema = Type.String({ format: 'uri', minLength: 1 })

export const CreateWebhookSubscriptionRequestSchema = Type.Object({
  events: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  url: WebhookUrlSchema,
  description: Type.Optional(Type.String())
}, { additionalProperties: false })
export type CreateWebhookSubscriptionRequest = Static<typeof CreateWebhookSubscriptionRequestSchema>

export const UpdateWebhookSubscriptionRequestSchema = Type.Object({
  events: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  url: Type.Optional(WebhookUrlSchema),
  description: Type.Optional(Type.String())
}, { additionalProperties: false })
export type UpdateWebhookSubscriptionRequest = Static<typeof UpdateWebhookSubscriptionRequestSchema>

// ---------------------------------------------------------------- responses

export const PaymentEventSchema = Type.Object({
  /** Statuses plus `AuthChallenged`, `Declined`, `Error`, ...: left open. */
  eventType: Type.String(),
  transactionDateTime: Opt(Type.String()),
  cardNumber: Opt(Type.String()),
  authCode: Opt(Type.String())
})
export type PaymentEvent = Static<typeof PaymentEventSchema>

export const CaptureDetailsSchema = Type.Object({
  id: Opt(Type.String()),
  amount: Type.Integer(),
  status: Opt(Type.String()),
  createdAt: Opt(Type.String())
})
export type CaptureDetails = Static<typeof CaptureDetailsSchema>

export const PaymentDetailsSchema = Type.Object({
  transactionId: Opt(Type.String()),
  transactionDateTime: Opt(Type.String()),
  message: Opt(Type.String()),
  authCode: Opt(Type.String()),
  card: Opt(Type.Object({
    cardNumber: Opt(Type.String()),
    cardName: Opt(Type.String()),
    expiryDate: Opt(Type.String()),
    cardType: Opt(Type.String())
  }))
})
export type PaymentDetails = Static<typeof PaymentDetailsSchema>

export const PaymentIntentSchema = Type.Object({
  id: Type.String({ minLength: 1 }),
  status: PaymentIntentStatusSchema,
  amount: DojoMoneySchema,
  createdAt: Type.String(),
  captureMode: Opt(CaptureModeSchema),
  totalAmount: Opt(DojoMoneySchema),
  refundedAmount: Opt(Type.Integer()),
  reference: Opt(Type.String()),
  description: Opt(Type.String()),
  updatedAt: Opt(Type.String()),
  expireAt: Opt(Type.String()),
  metadata: Opt(Type.Record(Type.String(), Type.String())),
  config: Opt(Type.Object({
    title: Opt(Type.String()),
    redirectUrl: Opt(Type.String()),
    cancelUrl: Opt(Type.String()),
    tradingName: Opt(Type.String())
  })),
  customer: Opt(Type.Object({ emailAddress: Opt(Type.String()), phoneNumber: Opt(Type.String()) })),
  paymentSource: Opt(Type.String()),
  paymentLink: Opt(Type.String()),
  paymentEvents: Opt(Type.Array(PaymentEventSchema)),
  paymentDetails: Opt(PaymentDetailsSchema),
  captures: Opt(Type.Array(CaptureDetailsSchema)),
  /** Opaque, single use, about 30 minutes: for the client-side checkout components. */
  clientSessionSecret: Opt(Type.String()),
  clientSessionSecretExpirationDate: Opt(Type.String())
})
export type PaymentIntent = Static<typeof PaymentIntentSchema>

export const CaptureResultSchema = Type.Object({ captureId: Type.String({ minLength: 1 }), message: Opt(Type.String()) })
export type CaptureResult = Static<typeof CaptureResultSchema>

export const RefundResultSchema = Type.Object({
  refundId: Type.String({ minLength: 1 }),
  paymentIntentId: Opt(Type.String()),
  refundReason: Opt(Type.String()),
  notes: Opt(Type.String())
})
export type RefundResult = Static<typeof RefundResultSchema>

export const ReversalResultSchema = Type.Object({
  /** Null only when a retried reversal found the intent already `Reversed` (see README). */
  reversalId: Nullable(Type.String({ minLength: 1 })),
  message: Opt(Type.String())
})
export type ReversalResult = Static<typeof ReversalResultSchema>

export const PaymentIntentPageSchema = Type.Object({
  data: Type.Array(PaymentIntentSchema),
  /** Cursor for the page before this one (newer), null when none. */
  before: Opt(Type.String()),
  /** Cursor for the page after this one (older), null when none. */
  after: Opt(Type.String())
})
export type PaymentIntentPage = Static<typeof PaymentIntentPageSchema>

export const WebhookSecretSchema = Type.Object({
  id: Type.String({ minLength: 1 }),
  value: Type.String({ minLength: 1 }),
  isActive: Type.Boolean(),
  createdAt: Opt(Type.String()),
  lastUsedAt: Opt(Type.String())
})
export type WebhookSecret = Static<typeof WebhookSecretSchema>

export const WebhookSubscriptionSchema = Type.Object({
  id: Type.String({ minLength: 1 }),
  events: Type.Array(Type.String()),
  url: Type.String(),
  secrets: Type.Array(WebhookSecretSchema),
  accountId: Opt(Type.String()),
  description: Opt(Type.String()),
  createdAt: Opt(Type.String()),
  updatedAt: Opt(Type.String())
})
export type WebhookSubscription = Static<typeof WebhookSubscriptionSchema>

export const WebhookSubscriptionListSchema = Type.Array(WebhookSubscriptionSchema)

export const WebhookSecretsSchema = Type.Object({
  id: Opt(Type.String()),
  secrets: Type.Array(WebhookSecretSchema)
})
export type WebhookSecrets = Static<typeof WebhookSecretsSchema>

export const WebhookEventCatalogueSchema = Type.Array(Type.Object({
  model: Opt(Type.String()),
  events: Type.Array(Type.String())
}))
export type WebhookEventCatalogue = Static<typeof WebhookEventCatalogueSchema>

/** The body Dojo POSTs to a subscription's URL. No amount: fetch the intent to act on it. */
export const WebhookEventSchema = Type.Object({
  id: Type.String({ minLength: 1 }),
  event: Type.String({ minLength: 1 }),
  accountId: Opt(Type.String()),
  createdAt: Opt(Type.String()),
  data: Type.Object({
    paymentIntentId: Type.String({ minLength: 1 }),
    paymentStatus: Opt(Type.String()),
    captureMode: Opt(Type.String())
  })
})
export type WebhookEvent = Static<typeof WebhookEventSchema>

/** ASP.NET problem details, as Dojo sends with 4xx answers. */
export const ProblemDetailsSchema = Type.Object({
  type: Opt(Type.String()),
  title: Opt(Type.String()),
  status: Opt(Type.Integer()),
  detail: Opt(Type.String()),
  traceId: Opt(Type.String()),
  errors: Opt(Type.Record(Type.String(), Type.Array(Type.String())))
})
export type ProblemDetails = Static<typeof ProblemDetailsSchema>
