import { Type, type Static, type TSchema } from '@sinclair/typebox'

// Written from Dojo's published spec (2025-09-10 and 2026-02-27); limits as published.

const DateTime = Type.String({ format: 'date-time' })
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const PaymentIntentStatusSchema = Type.Union(['Created', 'Authorized', 'Captured', 'Reversed', 'Refunded', 'Canceled'].map((s) => Type.Literal(s)), { $id: 'PaymentIntentStatus' })
export type PaymentIntentStatus = 'Created' | 'Authorized' | 'Captured' | 'Reversed' | 'Refunded' | 'Canceled'

export const CaptureModeSchema = Type.Union([Type.Literal('Auto'), Type.Literal('Manual')])
export type CaptureMode = Static<typeof CaptureModeSchema>

export const MoneySchema = Type.Object({
  value: Type.Integer({ minimum: 0, description: 'Minor units, e.g. pence.' }),
  currencyCode: Type.String({ minLength: 1, maxLength: 10 })
}, { additionalProperties: false })
export type Money = Static<typeof MoneySchema>

const CustomerRequestSchema = Type.Object({
  id: Type.Optional(Nullable(Type.String())),
  emailAddress: Type.Optional(Nullable(Type.String({ maxLength: 254 }))),
  phoneNumber: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
  secret: Type.Optional(Nullable(Type.String())),
  savedCardId: Type.Optional(Nullable(Type.String()))
}, { additionalProperties: false })

const CustomerSchema = Type.Object({
  id: Type.Optional(Type.String()),
  emailAddress: Type.Optional(Nullable(Type.String())),
  phoneNumber: Type.Optional(Nullable(Type.String()))
})

const ConfigDetailsSchema = Type.Object({
  showTotal: Type.Optional(Type.Boolean()),
  showReference: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

const CustomerEmailConfigSchema = Type.Object({ collectionRequired: Type.Optional(Type.Boolean()) }, { additionalProperties: false })

const AnyObject = Type.Object({}, { additionalProperties: true })

export const PaymentIntentConfigRequestSchema = Type.Object({
  title: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
  redirectUrl: Type.Optional(Nullable(Type.String({ format: 'uri' }))),
  cancelUrl: Type.Optional(Nullable(Type.String({ format: 'uri' }))),
  customerEmail: Type.Optional(Nullable(CustomerEmailConfigSchema)),
  details: Type.Optional(Nullable(ConfigDetailsSchema)),
  billingAddress: Type.Optional(Nullable(AnyObject)),
  shippingDetails: Type.Optional(Nullable(AnyObject)),
  payment: Type.Optional(Nullable(AnyObject))
}, { additionalProperties: false })

const PaymentIntentConfigResponseSchema = Type.Object({
  title: Type.Optional(Nullable(Type.String())),
  redirectUrl: Type.Optional(Nullable(Type.String())),
  cancelUrl: Type.Optional(Nullable(Type.String())),
  customerEmail: Type.Optional(Nullable(Type.Object({ collectionRequired: Type.Optional(Type.Boolean()) }))),
  details: Type.Optional(Nullable(Type.Object({ showTotal: Type.Optional(Type.Boolean()), showReference: Type.Optional(Type.Boolean()) }))),
  billingAddress: Type.Optional(Nullable(AnyObject)),
  shippingDetails: Type.Optional(Nullable(AnyObject)),
  payment: Type.Optional(Nullable(AnyObject)),
  tradingName: Type.Optional(Type.String()),
  branding: Type.Optional(AnyObject)
})

const ItemLineSchema = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 60 })),
  name: Type.Optional(Type.String({ maxLength: 100 })),
  quantity: Type.Optional(Type.Integer()),
  category: Type.Optional(Type.String()),
  plu: Type.Optional(Type.String({ maxLength: 200 })),
  modifiers: Type.Optional(Type.Array(AnyObject)),
  amountTotal: Nullable(MoneySchema)
}, { additionalProperties: false })

export const AutoExpireActionSchema = Type.Union([Type.Literal('Release'), Type.Literal('Capture')])
export type AutoExpireAction = Static<typeof AutoExpireActionSchema>

/** `dd.hh:MM:ss` (.NET TimeSpan), e.g. `00:00:55` or `1.00:00:00`. */
export const TIMESPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/

export const ActionLinkSchema = Type.Object({
  url: Type.String({ minLength: 1, format: 'uri' }),
  action: Type.Optional(Nullable(Type.Union([Type.Literal('OpenLink'), Type.Literal('DownloadFile')]))),
  label: Type.String({ minLength: 1, maxLength: 60 }),
  fileName: Type.Optional(Nullable(Type.String({ maxLength: 256 })))
}, { additionalProperties: false })

const OrderDetailsSchema = Type.Object({
  availabilityDate: Type.Optional(Nullable(DateTime)),
  isUpdate: Type.Optional(Nullable(Type.Boolean())),
  id: Type.Optional(Nullable(Type.String())),
  externalId: Type.Optional(Nullable(Type.String()))
}, { additionalProperties: false })

/**
 * POST /payment-intents: every field of the 2026-02-27 spec, additionalProperties false as it
 * says. Keys are matched case-insensitively before validation, as ASP.NET binds them (Dojo's own
 * Manual-capture example sends `AutoExpireAction`).
 */
export const CreatePaymentIntentRequestSchema = Type.Object({
  captureMode: Type.Optional(CaptureModeSchema),
  amount: MoneySchema,
  tipsAmount: Type.Optional(Nullable(MoneySchema)),
  reference: Type.String({ minLength: 1, maxLength: 60 }),
  description: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
  customer: Type.Optional(Nullable(CustomerRequestSchema)),
  billingAddress: Type.Optional(Nullable(AnyObject)),
  shippingDetails: Type.Optional(Nullable(AnyObject)),
  cardHolderNotPresent: Type.Optional(Type.Boolean()),
  config: Type.Optional(Nullable(PaymentIntentConfigRequestSchema)),
  requestSecurity: Type.Optional(Nullable(AnyObject)),
  itemLines: Type.Optional(Nullable(Type.Array(ItemLineSchema))),
  taxLines: Type.Optional(Nullable(Type.Array(AnyObject))),
  paymentMethods: Type.Optional(Nullable(Type.Array(Type.String()))),
  actionLink: Type.Optional(Nullable(ActionLinkSchema)),
  expireAt: Type.Optional(Nullable(DateTime)),
  autoExpireIn: Type.Optional(Nullable(Type.String({ pattern: TIMESPAN.source, description: 'dd.hh:MM:ss; Manual capture only; more than 30 seconds, less than 7 days.' }))),
  autoExpireAction: Type.Optional(Nullable(AutoExpireActionSchema)),
  metadata: Type.Optional(Nullable(Type.Record(Type.String(), Type.String()))),
  setupIntentId: Type.Optional(Nullable(Type.String())),
  orderDetails: Type.Optional(Nullable(OrderDetailsSchema)),
  cashbackAmount: Type.Optional(Nullable(MoneySchema)),
  serviceChargeAmount: Type.Optional(Nullable(MoneySchema)),
  generateRemoteToken: Type.Optional(Type.Boolean()),
  isNotOnlineCheckout: Type.Optional(Type.Boolean()),
  // Not in the spec's request, but in every intent Dojo returns; links send "payment-links".
  paymentSource: Type.Optional(Nullable(Type.String({ maxLength: 100 })))
}, { additionalProperties: false, title: 'CreatePaymentIntentRequest' })
export type CreatePaymentIntentRequest = Static<typeof CreatePaymentIntentRequestSchema>

export const PaymentEventTypeSchema = Type.Union(['Created', 'Authorized', 'Captured', 'Reversed', 'Refunded', 'Canceled', 'AuthChallenged', 'Declined', 'ManualAuthReady', 'Error', 'Unknown'].map((s) => Type.Literal(s)))

export const PaymentEventSchema = Type.Object({
  transactionId: Type.String(),
  transactionDateTime: Type.String(),
  eventType: PaymentEventTypeSchema,
  authCode: Type.String(),
  cardNumber: Type.String(),
  expiryDate: Type.String(),
  cardType: Type.String(),
  cardholderName: Type.String(),
  paymentMethodId: Type.String()
})
export type PaymentEvent = Static<typeof PaymentEventSchema>

export const PaymentDetailsSchema = Type.Object({
  transactionId: Type.String(),
  transactionDateTime: Type.String(),
  message: Type.String(),
  authCode: Type.String(),
  card: Type.Object({
    cardNumber: Type.String(),
    cardName: Type.String(),
    expiryDate: Type.String(),
    cardType: Type.String(),
    last4PAN: Type.String()
  })
})
export type PaymentDetails = Static<typeof PaymentDetailsSchema>

export const CaptureDetailsSchema = Type.Object({
  id: Type.String(),
  amount: Type.Integer(),
  status: Type.Union([Type.Literal('Created'), Type.Literal('Successful'), Type.Literal('Declined'), Type.Literal('Failed')]),
  createdAt: DateTime
})
export type CaptureDetails = Static<typeof CaptureDetailsSchema>

export const PaymentIntentSchema = Type.Object({
  id: Type.String(),
  captureMode: CaptureModeSchema,
  cardHolderNotPresent: Type.Boolean(),
  clientSessionSecret: Type.String(),
  clientSessionSecretExpirationDate: DateTime,
  paymentDetails: Type.Optional(PaymentDetailsSchema),
  status: PaymentIntentStatusSchema,
  paymentMethods: Type.Array(Type.String()),
  amount: MoneySchema,
  tipsAmount: Type.Optional(MoneySchema),
  totalAmount: MoneySchema,
  refundedAmount: Type.Integer(),
  customer: Type.Optional(CustomerSchema),
  billingAddress: Type.Optional(AnyObject),
  shippingDetails: Type.Optional(AnyObject),
  createdAt: DateTime,
  updatedAt: DateTime,
  reference: Type.String(),
  description: Type.Optional(Type.String()),
  itemLines: Type.Array(Type.Object({
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    quantity: Type.Optional(Type.Integer()),
    category: Type.Optional(Type.String()),
    plu: Type.Optional(Type.String()),
    modifiers: Type.Optional(Type.Array(AnyObject)),
    amountTotal: Nullable(MoneySchema)
  })),
  taxLines: Type.Array(AnyObject),
  merchantConfig: Type.Object({ supportedPaymentMethods: Type.Object({ cardSchemes: Type.Array(Type.String()), wallets: Type.Array(Type.String()) }) }),
  config: PaymentIntentConfigResponseSchema,
  paymentSource: Type.String(),
  actionLink: Type.Optional(ActionLinkSchema),
  autoExpireAction: Type.Optional(AutoExpireActionSchema),
  autoExpireIn: Type.Optional(Type.String()),
  orderDetails: Type.Optional(OrderDetailsSchema),
  setupIntentId: Type.Optional(Type.String()),
  cashbackAmount: Type.Optional(MoneySchema),
  serviceChargeAmount: Type.Optional(MoneySchema),
  requestSecurity: Type.Optional(AnyObject),
  expireAt: DateTime,
  metadata: Type.Record(Type.String(), Type.String()),
  paymentEvents: Type.Array(PaymentEventSchema),
  paymentLink: Type.String(),
  terminalSessionHistory: Type.Array(AnyObject),
  captures: Type.Array(CaptureDetailsSchema)
}, { title: 'PaymentIntent' })
export type PaymentIntentView = Static<typeof PaymentIntentSchema>

export const PaymentIntentIdParamsSchema = Type.Object({ paymentIntentId: Type.String({ maxLength: 100 }) })
export const GetPaymentIntentQuerySchema = Type.Object({ returnCanceled: Type.Optional(Type.Boolean()) })

export const CreateCaptureRequestSchema = Type.Object({
  amount: Type.Integer({ minimum: 1 }),
  tipsAmount: Type.Optional(Nullable(Type.Integer({ minimum: 0 })))
}, { additionalProperties: false, title: 'CreateCaptureRequest' })
export const CaptureSchema = Type.Object({ message: Type.String(), captureId: Type.String() }, { title: 'Capture' })

export const CreateRefundRequestSchema = Type.Object({
  amount: Type.Integer({ minimum: 1 }),
  previousTransactionId: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
  refundReason: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
  notes: Type.Optional(Nullable(Type.String({ maxLength: 4096 })))
}, { additionalProperties: false, title: 'CreateRefundRequest' })
export type CreateRefundRequest = Static<typeof CreateRefundRequestSchema>
export const RefundHeadersSchema = Type.Object({ idempotencykey: Type.String({ minLength: 1, maxLength: 100 }) })
export const RefundSchema = Type.Object({
  paymentIntentId: Type.String(),
  refundId: Type.String(),
  refundReason: Type.Optional(Nullable(Type.String())),
  notes: Type.Optional(Nullable(Type.String()))
}, { title: 'Refund' })
export type Refund = Static<typeof RefundSchema>

export const RefundIdParamsSchema = Type.Object({ refundId: Type.String({ maxLength: 50 }) })

export const SendEmailReceiptRequestSchema = Type.Object({
  emails: Type.Array(Type.String({ minLength: 1, maxLength: 254 }))
}, { additionalProperties: false, title: 'SendEmailReceiptRequest' })

export const ReversalSchema = Type.Object({ message: Type.String(), reversalId: Type.String() }, { title: 'Reversal' })

export const SearchPaymentIntentRequestSchema = Type.Object({
  statuses: Type.Optional(Nullable(Type.Array(PaymentIntentStatusSchema))),
  startDate: Type.Optional(Nullable(DateTime)),
  endDate: Type.Optional(Nullable(DateTime)),
  cursor: Type.Optional(Nullable(Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Default 50.' })),
    before: Type.Optional(Nullable(Type.String())),
    after: Type.Optional(Nullable(Type.String()))
  }, { additionalProperties: false })))
}, { additionalProperties: false, title: 'SearchPaymentIntentRequest' })
export type SearchPaymentIntentRequest = Static<typeof SearchPaymentIntentRequestSchema>

export const PagedPaymentIntentsSchema = Type.Object({
  data: Type.Array(PaymentIntentSchema),
  before: Nullable(Type.String()),
  after: Nullable(Type.String())
}, { title: 'PagedResultOfPaymentIntent' })

// Webhooks

export const WEBHOOK_EVENTS = ['payment_intent.created', 'payment_intent.status_updated', 'payment_intent.send-receipt'] as const
export type WebhookEventName = typeof WEBHOOK_EVENTS[number]

export const SubscriptionSecretSchema = Type.Object({
  id: Type.String(),
  value: Type.String(),
  createdAt: DateTime,
  lastUsedAt: Type.Optional(DateTime),
  isActive: Type.Boolean()
}, { title: 'SubscriptionSecret' })

export const SubscriptionSchema = Type.Object({
  id: Type.String(),
  accountId: Type.String(),
  events: Type.Array(Type.String()),
  url: Type.String(),
  description: Type.Optional(Type.String()),
  secrets: Type.Array(SubscriptionSecretSchema),
  createdAt: DateTime,
  updatedAt: DateTime
}, { title: 'Subscription' })

export const SubscriptionRequestSchema = Type.Object({
  events: Type.Array(Type.String(), { minItems: 1 }),
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1024 })))
}, { additionalProperties: false, title: 'SubscriptionRequest' })

export const SubscriptionUpdateRequestSchema = Type.Object({
  events: Type.Optional(Nullable(Type.Array(Type.String(), { minItems: 1 }))),
  url: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2048 }))),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1024 })))
}, { additionalProperties: false, title: 'SubscriptionUpdateRequest' })

export const SecretsResponseSchema = Type.Object({ id: Type.String(), secrets: Type.Array(SubscriptionSecretSchema) }, { title: 'SecretsResponse' })
export const SubscriptionParamsSchema = Type.Object({ subscriptionId: Type.String({ maxLength: 100 }) })
export const SecretParamsSchema = Type.Object({ subscriptionId: Type.String({ maxLength: 100 }), secretId: Type.String({ maxLength: 100 }) })
export const WebhookEventsCatalogueSchema = Type.Array(Type.Object({ model: Type.String(), events: Type.Array(Type.String()) }))

/** The body Dojo POSTs to a subscription: ids and status only, no amounts. */
export interface WebhookPayload {
  id: string
  event: WebhookEventName
  accountId: string
  createdAt: string
  data: { paymentIntentId: string, paymentStatus: PaymentIntentStatus, captureMode: CaptureMode }
}

/** ASP.NET problem details, as Dojo's API sends for 400/401/404/409. */
export const AspNetErrorSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
  traceId: Type.String()
}, { title: 'ErrorResponse' })

export const VersionHeaderSchema = Type.Object({ version: Type.Optional(Type.String({ description: 'API version, yyyy-mm-dd, e.g. 2026-02-27.' })) })
