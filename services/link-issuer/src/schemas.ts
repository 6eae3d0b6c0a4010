import { Type, type Static } from '@sinclair/typebox'
import { AutoExpireInSchema, CaptureModeSchema, CustomerSchema, DateTimeSchema, LinkIdSchema, LinkStatusSchema, MetadataSchema, ReusableLinkIdSchema } from '@paylinks/contracts'

// An enum reads better in a validation error than a union of literals ("must be equal to one
// of the allowed values" instead of three messages about constants).
const Currency = Type.Unsafe<'GBP' | 'EUR'>({ type: 'string', enum: ['GBP', 'EUR'], description: 'ISO 4217 currency code (Dojo takes GBP and EUR).' })
const Amount = Type.Object({
  value: Type.Integer({ minimum: 1, maximum: 99_999_999_999, description: 'Amount in minor units (1050 is 10.50).' }),
  currencyCode: Currency
}, { additionalProperties: false })
const HttpUrl = Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 })

export const CreateLinkBodySchema = Type.Object({
  reference: Type.String({ minLength: 1, maxLength: 60, description: 'Your unique reference for this payment (1–60 characters).' }),
  amount: Amount,
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  customer: Type.Optional(CustomerSchema),
  expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the link stops working (future; default: the merchant\'s link expiry).' })),
  redirectUrl: Type.Optional(HttpUrl),
  metadata: Type.Optional(MetadataSchema),
  sendEmail: Type.Optional(Type.Boolean({ default: false, description: 'E-mail the link to customer.email.' })),
  captureMode: Type.Optional(Type.Union([Type.Literal('Auto'), Type.Literal('Manual')], { description: '`Manual`: the payment is only authorised; capture it (POST …/captures) or release it (POST …/release). Default `Auto`.' })),
  autoExpireAction: Type.Optional(Type.Union([Type.Literal('Release'), Type.Literal('Capture')], { description: 'Manual only: what Dojo does with an authorisation still uncaptured after `autoExpireIn` (default `Release`).' })),
  autoExpireIn: Type.Optional(Type.String({ pattern: AutoExpireInSchema.pattern, description: 'Manual only: `dd.hh:MM:ss`, more than 30 seconds and less than 7 days (Dojo releases after 7 days without it).' }))
}, { additionalProperties: false, title: 'CreatePaymentLink' })
export type CreateLinkBody = Static<typeof CreateLinkBodySchema>

/** A link's customer: its personal data while its key exists; `erased: true` (and the id only) after an erasure. */
export const CustomerViewSchema = Type.Object({
  id: Type.String({ description: 'The customer (cus_…): the subject of POST /v1/customers/erase' }),
  email: Type.Optional(Type.String()),
  phone: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  erased: Type.Optional(Type.Literal(true, { description: 'The customer was erased: its personal data (and personal metadata fields) are gone' }))
}, { title: 'LinkCustomer' })

export const LinkSchema = Type.Object({
  id: LinkIdSchema,
  reference: Type.String(),
  status: LinkStatusSchema,
  url: Type.Union([Type.String(), Type.Null()], { description: 'Dojo\'s checkout page for the link (null until issued).' }),
  shortUrl: Type.Union([Type.String(), Type.Null()], { description: 'The link to give the customer (null until issued): ours, so that opening it is recorded (`opened`); it sends them on to `url`, or says plainly that the link was paid, canceled or has expired.' }),
  paymentIntentId: Type.Union([Type.String(), Type.Null()]),
  amount: Type.Object({ value: Type.Integer(), currencyCode: Type.String() }),
  description: Type.Optional(Type.String()),
  customer: Type.Optional(CustomerViewSchema),
  expiresAt: DateTimeSchema,
  redirectUrl: Type.Optional(Type.String()),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
  source: Type.Union([Type.Literal('api'), Type.Literal('order')]),
  orderId: Type.Optional(Type.String()),
  renewalOf: Type.Union([LinkIdSchema, Type.Null()], { description: 'The expired or canceled link this one renews (its customer asked for a fresh link), else null' }),
  renewedAs: Type.Union([LinkIdSchema, Type.Null()], { description: 'The link that renewed this expired or canceled one, else null' }),
  reusableLinkId: Type.Union([ReusableLinkIdSchema, Type.Null()], { description: 'The reusable link this link was made for (one payer\'s link of it), else null' }),
  email: Type.Object({
    requested: Type.Boolean(),
    sentAt: Type.Union([DateTimeSchema, Type.Null()]),
    reminders: Type.Integer({ minimum: 0, description: 'Reminder e-mails sent so far (the merchant\'s reminder policy, `/v1/settings/reminders`)' }),
    lastReminderAt: Type.Union([DateTimeSchema, Type.Null()])
  }),
  opened: Type.Object({
    firstAt: Type.Union([DateTimeSchema, Type.Null()], { description: 'When the customer first opened `shortUrl`' }),
    count: Type.Integer({ minimum: 0, description: 'Opens recorded so far: the first at once, later ones within about a minute' })
  }),
  captureMode: CaptureModeSchema,
  capturedAmount: Type.Integer({ description: 'Minor units captured (all of an Auto payment once paid; Manual captures add up)' }),
  refundedAmount: Type.Integer({ description: 'Minor units refunded' }),
  failure: Type.Optional(Type.Object({ reason: Type.String(), code: Type.Optional(Type.String()) })),
  createdAt: DateTimeSchema,
  updatedAt: DateTimeSchema
}, { title: 'PaymentLink' })

export const LinkSummarySchema = Type.Object({
  id: LinkIdSchema,
  reference: Type.String(),
  status: Type.String(),
  url: Type.Union([Type.String(), Type.Null()]),
  paymentIntentId: Type.Union([Type.String(), Type.Null()]),
  amount: Type.Object({ value: Type.Integer(), currencyCode: Type.String() }),
  source: Type.String(),
  orderId: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String()
}, { title: 'PaymentLinkSummary' })

export const LinkListSchema = Type.Object({
  data: Type.Array(LinkSummarySchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next (older) page; null at the end.' })
}, { title: 'PaymentLinkPage' })

export const ListQuerySchema = Type.Object({
  status: Type.Optional(LinkStatusSchema),
  reference: Type.Optional(Type.String({ minLength: 1, maxLength: 60 })),
  referencePrefix: Type.Optional(Type.String({ minLength: 1, maxLength: 60, description: 'links whose reference starts with it' })),
  customerEmail: Type.Optional(Type.String({ minLength: 3, maxLength: 254, description: 'links of the customer with this e-mail (exact, case-insensitive; an erased customer\'s are not found)' })),
  createdFrom: Type.Optional(Type.String({ format: 'date-time' })),
  createdTo: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })

export const ListHeadersSchema = Type.Object({
  'paylinks-position': Type.Optional(Type.Integer({ minimum: 0, description: 'The `Paylinks-Position` of a write you made (on any replica): the list then includes it.' }))
})

/** A read or change of one link: it includes a write made on another replica whose position the caller sends. */
export const PositionHeadersSchema = Type.Object({
  'paylinks-position': Type.Optional(Type.Integer({ minimum: 0, description: 'The `Paylinks-Position` of a write you made on another replica: the answer then includes it (a write on this replica is always included).' }))
})

export const LinkParamsSchema = Type.Object({ id: LinkIdSchema })

export const CancelBodySchema = Type.Union([
  Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
  Type.Null()
])

export const TimelineSchema = Type.Object({
  data: Type.Array(Type.Object({
    id: Type.String(),
    type: Type.String(),
    position: Type.Integer(),
    occurredAt: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown())
  }))
}, { title: 'PaymentLinkTimeline' })

export const QrQuerySchema = Type.Object({
  format: Type.Union([Type.Literal('png'), Type.Literal('svg')], { default: 'png' }),
  size: Type.Integer({ minimum: 64, maximum: 1024, default: 256 })
}, { additionalProperties: false })

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Replays the first answer for the same body; a different body is refused.' }))
})

/**
 * A merchant's reminder policy (`/v1/settings/reminders`): off by default. Once on, an issued
 * link that was e-mailed and is still unpaid gets reminder `n` when its last e-mail (the link,
 * or reminder n − 1) is `firstAfterSeconds` (n = 1) or `everySeconds` old, up to `maxReminders`.
 * Both durations are at least the service's REMINDER_MIN_INTERVAL_S (an hour in production).
 */
export const ReminderPolicySchema = Type.Object({
  enabled: Type.Boolean({ description: 'Send reminders; false stops them (those due are not sent)' }),
  firstAfterSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'The first reminder this long after the link was e-mailed (e.g. 86400: a day)' }),
  everySeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Each further reminder this long after the previous one: at most one per link per interval' }),
  maxReminders: Type.Integer({ minimum: 1, maximum: 5, description: 'At most this many reminders per link' })
}, { title: 'ReminderPolicy', additionalProperties: false })
export type ReminderPolicy = Static<typeof ReminderPolicySchema>

/** The policy of a merchant that never set one. */
export const DEFAULT_REMINDER_POLICY: ReminderPolicy = { enabled: false, firstAfterSeconds: 86_400, everySeconds: 86_400, maxReminders: 1 }

// --- reusable links --------------------------------------------------------------------------

const MaxPayments = Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'At most this many completed payments: payers past it are told the link is no longer available.' })

export const CreateReusableLinkBodySchema = Type.Object({
  reference: Type.String({ minLength: 1, maxLength: 50, description: 'Your unique reference for this reusable link (1–50 characters); each payer\'s link gets `<reference>#<n>`.' }),
  amount: Type.Object(Amount.properties, { additionalProperties: false, description: 'What each payer pays (you may change it later: PATCH).' }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  maxPayments: Type.Optional(MaxPayments),
  redirectUrl: Type.Optional(HttpUrl)
}, { additionalProperties: false, title: 'CreateReusableLink' })
export type CreateReusableLinkBody = Static<typeof CreateReusableLinkBodySchema>

export const ChangeReusableLinkBodySchema = Type.Object({
  amount: Type.Optional(Amount),
  maxPayments: Type.Optional(Type.Union([MaxPayments, Type.Null()], { description: 'A new limit (null: none). Payers already admitted keep their places.' }))
}, { additionalProperties: false, minProperties: 1, title: 'ChangeReusableLink' })

export const ReusableLinkParamsSchema = Type.Object({ id: ReusableLinkIdSchema })

export const ReusableLinkSchema = Type.Object({
  id: ReusableLinkIdSchema,
  reference: Type.String(),
  url: Type.String({ description: 'The one URL for every payer: a page with the price and a Pay button; each payer who presses it gets a payment link of their own.' }),
  amount: Type.Object({ value: Type.Integer(), currencyCode: Type.String() }),
  description: Type.Optional(Type.String()),
  redirectUrl: Type.Optional(Type.String()),
  maxPayments: Type.Union([Type.Integer(), Type.Null()], { description: 'The limit on completed payments, or null for none' }),
  active: Type.Boolean({ description: 'False once deactivated: nobody else is admitted' }),
  deactivatedAt: Type.Union([DateTimeSchema, Type.Null()]),
  payers: Type.Object({
    admitted: Type.Integer({ minimum: 0, description: 'Payers admitted so far (each got a payment link)' }),
    held: Type.Integer({ minimum: 0, description: 'Admitted payers whose link may still be paid (their place is held until `holdUntil`)' }),
    completed: Type.Integer({ minimum: 0, description: 'Completed payments' }),
    released: Type.Integer({ minimum: 0, description: 'Admitted payers whose link ended unpaid (their place was freed)' })
  }),
  remaining: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Places left now (limit − completed − held), or null without a limit' }),
  children: Type.Array(Type.Object({
    linkId: LinkIdSchema,
    payer: Type.Integer({ minimum: 1 }),
    status: Type.Union([Type.Literal('held'), Type.Literal('completed'), Type.Literal('released')]),
    admittedAt: DateTimeSchema,
    holdUntil: DateTimeSchema
  }), { description: 'The latest 100 payers\' links, newest first (each one is GET /v1/payment-links/{linkId})' }),
  createdAt: DateTimeSchema,
  updatedAt: DateTimeSchema
}, { title: 'ReusableLink' })

export const ReusableLinkListSchema = Type.Object({
  data: Type.Array(ReusableLinkSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next (older) page; null at the end.' })
}, { title: 'ReusableLinkPage' })

export const ReusableListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })

export const AdmittedPayerSchema = Type.Object({
  linkId: LinkIdSchema,
  url: Type.String({ description: 'Dojo\'s checkout page of the payer\'s own link' }),
  holdUntil: DateTimeSchema
}, { title: 'ReusableLinkPayer' })
