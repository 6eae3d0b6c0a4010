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

const Timespan = Type.String({ pattern: '^(\\d+\\.)?\\d{1,2}:\\d{2}:\\d{2}$', description: '.NET TimeSpan dd.hh:MM:ss' })
const Address = Type.Object({
  address1: Type.Optional(Type.String({ maxLength: 100 })),
  address2: Type.Optional(Type.String({ maxLength: 100 })),
  address3: Type.Optional(Type.String({ maxLength: 100 })),
  address4: Type.Optional(Type.String({ maxLength: 100 })),
  city: Type.Optional(Type.String({ maxLength: 100 })),
  state: Type.Optional(Type.String({ maxLength: 100 })),
  postcode: Type.Optional(Type.String({ maxLength: 50 })),
  countryCode: Type.String({ minLength: 1, maxLength: 10 }),
  locality: Type.Optional(Type.String({ maxLength: 100 })),
  county: Type.Optional(Type.String({ maxLength: 100 }))
}, { additionalProperties: false })
const CollectionRequired = Type.Object({ collectionRequired: Type.Optional(Type.Boolean()) }, { additionalProperties: false })

/** `autoExpireAction`: what happens to a Manual intent still authorised after `autoExpireIn`. */
export const AutoExpireActionSchema = Type.Union([Type.Literal('Release'), Type.Literal('Capture')])

/** A link shown with the payment (e.g. an invoice to download). */
export const ActionLinkSchema = Type.Object({
  url: Type.String({ minLength: 1, format: 'uri' }),
  label: Type.String({ minLength: 1, maxLength: 60 }),
  action: Type.Optional(Type.Union([Type.Literal('OpenLink'), Type.Literal('DownloadFile')])),
  fileName: Type.Optional(Type.String({ maxLength: 256 }))
}, { additionalProperties: false })

export const CreatePaymentIntentRequestSchema = Type.Object({
  amount: MoneySchema,
  reference: Type.String({ minLength: 1, maxLength: 60 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  captureMode: Type.Optional(CaptureModeSchema),
  tipsAmount: Type.Optional(MoneySchema),
  expireAt: Type.Optional(DateTimeSchema),
  /** Manual capture only: more than 30 seconds and less than 7 days after authorisation. */
  autoExpireIn: Type.Optional(Timespan),
  autoExpireAction: Type.Optional(AutoExpireActionSchema),
  customer: Type.Optional(Type.Object({
    id: Type.Optional(Type.String()),
    emailAddress: Type.Optional(Type.String({ maxLength: 254 })),
    phoneNumber: Type.Optional(Type.String({ maxLength: 50 })),
    secret: Type.Optional(Type.String()),
    savedCardId: Type.Optional(Type.String())
  }, { additionalProperties: false })),
  billingAddress: Type.Optional(Address),
  shippingDetails: Type.Optional(Type.Object({
    name: Type.Optional(Type.String({ maxLength: 100 })),
    deliveryNotes: Type.Optional(Type.String({ maxLength: 1024 })),
    address: Type.Optional(Address)
  }, { additionalProperties: false })),
  cardHolderNotPresent: Type.Optional(Type.Boolean()),
  config: Type.Optional(Type.Object({
    title: Type.Optional(Type.String({ maxLength: 100 })),
    redirectUrl: Type.Optional(Type.String({ format: 'uri' })),
    cancelUrl: Type.Optional(Type.String({ format: 'uri' })),
    customerEmail: Type.Optional(CollectionRequired),
    details: Type.Optional(Type.Object({
      showTotal: Type.Optional(Type.Boolean()),
      showReference: Type.Optional(Type.Boolean())
    }, { additionalProperties: false })),
    billingAddress: Type.Optional(CollectionRequired),
    shippingDetails: Type.Optional(CollectionRequired),
    payment: Type.Optional(Type.Object({
      customAmountAllowed: Type.Optional(Type.Boolean()),
      tipsAllowed: Type.Optional(Type.Boolean())
    }, { additionalProperties: false }))
  }, { additionalProperties: false })),
  requestSecurity: Type.Optional(Type.Object({
    userAgent: Type.Optional(Type.String({ maxLength: 300 })),
    ipAddress: Type.Optional(Type.String({ maxLength: 70 })),
    device: Type.Optional(Type.String({ maxLength: 120 }))
  }, { additionalProperties: false })),
  itemLines: Type.Optional(Type.Array(Type.Object({
    id: Type.Optional(Type.String({ maxLength: 60 })),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    quantity: Type.Optional(Type.Integer({ minimum: 1 })),
    category: Type.Optional(Type.String()),
    plu: Type.Optional(Type.String({ maxLength: 200 })),
    amountTotal: MoneySchema
  }, { additionalProperties: false }))),
  taxLines: Type.Optional(Type.Array(Type.Object({
    id: Type.Optional(Type.String({ maxLength: 60 })),
    caption: Type.Optional(Type.String({ maxLength: 100 })),
    subCaption: Type.Optional(Type.String({ maxLength: 100 })),
    affectedPlu: Type.Optional(Type.String({ maxLength: 200 })),
    amountTotal: MoneySchema
  }, { additionalProperties: false }))),
  /** `Card`, `Wallet`, `SavedCard`. */
  paymentMethods: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  actionLink: Type.Optional(ActionLinkSchema),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
  setupIntentId: Type.Optional(Type.String()),
  orderDetails: Type.Optional(Type.Object({
    availabilityDate: Type.Optional(DateTimeSchema),
    isUpdate: Type.Optional(Type.Boolean()),
    id: Type.Optional(Type.String()),
    externalId: Type.Optional(Type.String())
  }, { additionalProperties: false })),
  cashbackAmount: Type.Optional(MoneySchema),
  serviceChargeAmount: Type.Optional(MoneySchema),
  /** Accept online payments immediately. */
  generateRemoteToken: Type.Optional(Type.Boolean()),
  /** Payment links without an online checkout integration (a verified partner integration only). */
  isNotOnlineCheckout: Type.Optional(Type.Boolean()),
  /**
   * `"payment-links"` for payment links; Dojo shows `"api"` otherwise. Not in the spec's request
   * schema, though every intent Dojo returns carries it (see docs/dojo-contract.md).
   */
  paymentSource: Type.Optional(Type.String({ minLength: 1 }))
}, { additionalProperties: false })
export type CreatePaymentIntentRequest = Static<typeof CreatePaymentIntentRequestSchema>

export const CaptureRequestSchema = Type.Object({
  amount: MinorUnitsSchema,
  /** Tips captured with it, in minor units. */
  tipsAmount: Type.Optional(Type.Integer({ minimum: 0 }))
}, { additionalProperties: false })
export type CaptureRequest = Static<typeof CaptureRequestSchema>

export const RefundRequestSchema = Type.Object({
  amount: MinorUnitsSchema,
  previousTransactionId: Type.Optional(Type.String({ maxLength: 100 })),
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

/** POST /payment-intents/{id}/receipt: where Dojo e-mails the receipt. */
export const SendReceiptRequestSchema = Type.Object({
  emails: Type.Array(Type.String({ minLength: 1, maxLength: 254 }), { minItems: 1 })
}, { additionalProperties: false })
export type SendReceiptRequest = Static<typeof SendReceiptRequestSchema>

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
  autoExpireIn: Opt(Type.String()),
  autoExpireAction: Opt(Type.String()),
  actionLink: Opt(Type.Object({ url: Opt(Type.String()), label: Opt(Type.String()), action: Opt(Type.String()), fileName: Opt(Type.String()) })),
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
