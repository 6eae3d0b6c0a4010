import { Type, type Static } from '@sinclair/typebox'
import type { RecordedEvent } from './envelope.js'
import { CustomerRefSchema, derivedCustomerId, hasPersonalData, splitMetadata, type CustomerRef, type PersonalData } from './customers.js'
import { defineEvent, is, type RecordedEventOf } from './registry.js'
import { DateTimeSchema, MoneySchema, type Money } from './primitives.js'
import { ReusableLinkIdSchema } from './reusable-links.js'

/** `lnk_` + url-safe characters. A link's events form the stream `payment-link.<linkId>`. */
export const LinkIdSchema = Type.String({ pattern: '^lnk_[A-Za-z0-9_-]{10,64}$', description: 'Payment link id' })
/** `mer_` + url-safe characters. */
export const MerchantIdSchema = Type.String({ pattern: '^mer_[A-Za-z0-9_-]{6,64}$', description: 'Merchant id' })
/** Dojo's payment intent id (`pi_sandbox_…` or `pi_…`). */
export const PaymentIntentIdSchema = Type.String({ pattern: '^pi_[A-Za-z0-9_-]{10,64}$' })
/** The merchant's unique reference for the payment (Dojo: 1–60 characters). */
export const ReferenceSchema = Type.String({ minLength: 1, maxLength: 60 })
export const MetadataSchema = Type.Record(Type.String({ maxLength: 40 }), Type.String({ maxLength: 500 }), { maxProperties: 20, description: 'Up to 20 string pairs, passed to Dojo' })
export const CustomerSchema = Type.Object({
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  phone: Type.Optional(Type.String({ minLength: 3, maxLength: 50 })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
}, { additionalProperties: false })
export type Customer = Static<typeof CustomerSchema>

/** Dojo's capture mode: `Auto` takes the money at payment; `Manual` only authorises it. */
export const CaptureModeSchema = Type.Union([Type.Literal('Auto'), Type.Literal('Manual')], { description: 'Dojo capture mode (default Auto)' })
export type CaptureMode = Static<typeof CaptureModeSchema>
/** Dojo's `autoExpireIn` for Manual intents: a .NET TimeSpan `dd.hh:MM:ss`, more than 30 s and less than 7 days. */
export const AutoExpireInSchema = Type.String({ pattern: '^(\\d{1,2}\\.)?\\d{2}:\\d{2}:\\d{2}$', description: 'dd.hh:MM:ss, more than 30 seconds and less than 7 days' })
/** What Dojo does with a Manual intent still uncaptured `autoExpireIn` after authorisation. */
export const AutoExpireActionSchema = Type.Union([Type.Literal('Release'), Type.Literal('Capture')])
export type AutoExpireAction = Static<typeof AutoExpireActionSchema>

/** The stream of one link. */
export const paymentLinkStream = (linkId: string): string => `payment-link.${linkId}`

/**
 * A link's status, following Dojo's intent statuses. `requested` → `issued`, then:
 * - Auto capture: `paid` (Dojo `Captured`);
 * - Manual capture: `authorized` (Dojo `Authorized`) → `captured` at the first capture. Dojo
 *   itself reports `Captured` after a partial capture, so a link partly captured is `captured`
 *   with `capturedAmount` below the amount; further captures only raise `capturedAmount`.
 * - refunds: `paid` | `captured` → `partially_refunded` (Dojo keeps `Captured`) → `refunded`
 *   once `refundedAmount` reaches `capturedAmount` (Dojo `Refunded`);
 * - `released`: the authorisation or same-day payment was reversed (Dojo `Reversed`; recorded
 *   as `reversed` before, upcast to `released` when read);
 * - `failed`, `canceled` and `expired` end it before payment.
 * Status only moves forward.
 */
export const LinkStatusSchema = Type.Union([
  Type.Literal('requested'), Type.Literal('issued'), Type.Literal('failed'), Type.Literal('authorized'), Type.Literal('paid'),
  Type.Literal('captured'), Type.Literal('partially_refunded'), Type.Literal('refunded'), Type.Literal('released'),
  Type.Literal('canceled'), Type.Literal('expired')
])
export type LinkStatus = Static<typeof LinkStatusSchema>

/** For each status, the statuses it may move to. Anything else is a late or reordered report. */
export const LINK_STATUS_MOVES: Readonly<Record<LinkStatus, readonly LinkStatus[]>> = {
  requested: ['issued', 'failed', 'canceled'],
  issued: ['authorized', 'paid', 'canceled', 'expired'],
  failed: [],
  // Dojo: an authorisation is captured, reversed (within 7 days), or auto-expired into either.
  authorized: ['captured', 'released', 'canceled'],
  // Dojo: an Auto payment may be reversed on the day it was taken, and refunded after.
  paid: ['partially_refunded', 'refunded', 'released'],
  // Dojo: a Manual payment once captured can only be refunded.
  captured: ['partially_refunded', 'refunded'],
  partially_refunded: ['refunded'],
  refunded: [],
  released: [],
  canceled: [],
  expired: []
}

/** Statuses in which money was taken and may be refunded. */
export const REFUNDABLE_STATUSES: ReadonlySet<LinkStatus> = new Set<LinkStatus>(['paid', 'captured', 'partially_refunded'])
/** Statuses in which a Manual payment may be captured (again, up to its amount). */
export const CAPTURABLE_STATUSES: ReadonlySet<LinkStatus> = new Set<LinkStatus>(['authorized', 'captured'])

/** True when `to` moves a link forward from `from`. */
export function isForwardMove (from: LinkStatus, to: LinkStatus): boolean {
  return LINK_STATUS_MOVES[from].includes(to)
}

// --- events of the payment-link stream -------------------------------------------------------

/**
 * A partner or an order system asked for a link; nothing is at Dojo yet.
 * v2: the customer's personal data (e-mail, phone, name and the personal metadata fields) is
 * sealed under the customer's key in `customer`; `metadata` keeps only the other fields. v1
 * carried them in clear: upcast, they become `customer.plain` under the derived customer id.
 */
export const PaymentLinkRequested = defineEvent('payment-link.requested', Type.Object({
  linkId: LinkIdSchema,
  merchantId: MerchantIdSchema,
  reference: ReferenceSchema,
  amount: MoneySchema,
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  customer: Type.Optional(CustomerRefSchema),
  expiresAt: DateTimeSchema,
  redirectUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
  metadata: Type.Optional(MetadataSchema),
  sendEmail: Type.Boolean(),
  source: Type.Union([Type.Literal('api'), Type.Literal('order')]),
  orderId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  captureMode: Type.Optional(CaptureModeSchema),
  autoExpireIn: Type.Optional(AutoExpireInSchema),
  autoExpireAction: Type.Optional(AutoExpireActionSchema),
  /** The expired or canceled link this one renews (its customer asked for a fresh link): optional, so v2 still. */
  renewalOf: Type.Optional(LinkIdSchema),
  /** The reusable link this one was made for (one payer of it): optional, so v2 still. */
  reusableLinkId: Type.Optional(ReusableLinkIdSchema)
}, { additionalProperties: false }), {
  version: 2,
  upcasters: {
    1: (data) => {
      const { customer, metadata, ...rest } = data as { customer?: Customer, metadata?: Record<string, string>, merchantId: string, linkId: string }
      const split = splitMetadata(metadata)
      const plain: PersonalData = { ...customer, ...(split.personal === undefined ? {} : { metadata: split.personal }) }
      return {
        ...rest,
        ...(split.rest === undefined ? {} : { metadata: split.rest }),
        ...(hasPersonalData(plain) ? { customer: { id: derivedCustomerId(rest.merchantId, rest.linkId, customer ?? {}), plain } } : {})
      }
    }
  }
})

/** Dojo created the payment intent: the link is live. */
export const PaymentLinkIssued = defineEvent('payment-link.issued', Type.Object({
  linkId: LinkIdSchema,
  merchantId: MerchantIdSchema,
  paymentIntentId: PaymentIntentIdSchema,
  url: Type.String({ format: 'uri' }),
  expiresAt: DateTimeSchema
}, { additionalProperties: false }))

/** The intent could not be created; `retryable` says whether asking again may succeed. */
export const PaymentLinkIssueFailed = defineEvent('payment-link.issue-failed', Type.Object({
  linkId: LinkIdSchema,
  merchantId: MerchantIdSchema,
  reason: Type.String({ maxLength: 2000 }),
  code: Type.Optional(Type.String({ maxLength: 100 })),
  retryable: Type.Boolean()
}, { additionalProperties: false }))

/** The link went to the customer (e-mail). */
export const PaymentLinkSent = defineEvent('payment-link.sent', Type.Object({
  linkId: LinkIdSchema,
  channel: Type.Literal('email'),
  messageId: Type.Optional(Type.String({ maxLength: 300 }))
}, { additionalProperties: false }))

/** The merchant canceled the link (and its intent at Dojo). */
export const PaymentLinkCanceled = defineEvent('payment-link.canceled', Type.Object({
  linkId: LinkIdSchema,
  reason: Type.Optional(Type.String({ maxLength: 500 }))
}, { additionalProperties: false }))

/** A verified Dojo webhook about the link's intent arrived (recorded before it is confirmed). */
export const PaymentLinkWebhookReceived = defineEvent('payment-link.webhook-received', Type.Object({
  linkId: LinkIdSchema,
  paymentIntentId: PaymentIntentIdSchema,
  dojoEventId: Type.String({ minLength: 1, maxLength: 100 }),
  event: Type.String({ maxLength: 100 }),
  paymentStatus: Type.String({ maxLength: 50 }),
  receivedAt: DateTimeSchema
}, { additionalProperties: false }))

const renamedStatus = (status: unknown): unknown => status === 'reversed' ? 'released' : status
const MoneySourceSchema = Type.Union([Type.Literal('api'), Type.Literal('webhook'), Type.Literal('reconciler')], {
  description: 'Who observed it: our partner API (`api`), a Dojo webhook confirmed with Dojo (`webhook`), or the reconciler asking Dojo (`reconciler`)'
})

/**
 * Dojo confirmed a status that moves the link forward. Amounts are minor units.
 * v2: Dojo's `Reversed` is the link status `released`; v1's `reversed` is upcast to it.
 */
export const PaymentLinkStatusChanged = defineEvent('payment-link.status-changed', Type.Object({
  linkId: LinkIdSchema,
  paymentIntentId: PaymentIntentIdSchema,
  from: LinkStatusSchema,
  to: LinkStatusSchema,
  dojoStatus: Type.String({ maxLength: 50 }),
  amount: MoneySchema,
  capturedAmount: Type.Integer({ minimum: 0 }),
  refundedAmount: Type.Integer({ minimum: 0 }),
  source: MoneySourceSchema,
  observedAt: DateTimeSchema
}, { additionalProperties: false }), {
  version: 2,
  upcasters: { 1: (data) => ({ ...data, from: renamedStatus(data.from), to: renamedStatus(data.to) }) }
})

/** Our request's id on money events: a replay of the same partner request finds its event. */
const RequestIdSchema = Type.String({ minLength: 1, maxLength: 200 })

/**
 * Money was captured on a Manual link (one capture of Dojo's, partial or whole): the link is
 * `captured`. `capturedAmount` is the total captured after it. Captures are told apart by
 * `captureId`; one recorded twice changes nothing.
 */
export const PaymentLinkCaptured = defineEvent('payment-link.captured', Type.Object({
  linkId: LinkIdSchema,
  paymentIntentId: PaymentIntentIdSchema,
  captureId: Type.String({ minLength: 1, maxLength: 100 }),
  amount: MoneySchema,
  capturedAmount: Type.Integer({ minimum: 1 }),
  source: MoneySourceSchema,
  observedAt: DateTimeSchema,
  requestId: Type.Optional(RequestIdSchema)
}, { additionalProperties: false }))

/**
 * Money was refunded (one refund, partial or whole). `refundedAmount` is the total refunded after
 * it and `capturedAmount` what had been captured: equal, the link is `refunded`, else
 * `partially_refunded`. A refund made outside the platform (Dojo's portal) is found by the
 * reconciler, with a `refundId` derived from the amounts (Dojo does not list refunds).
 */
export const PaymentLinkRefunded = defineEvent('payment-link.refunded', Type.Object({
  linkId: LinkIdSchema,
  paymentIntentId: PaymentIntentIdSchema,
  refundId: Type.String({ minLength: 1, maxLength: 100 }),
  amount: MoneySchema,
  refundedAmount: Type.Integer({ minimum: 1 }),
  capturedAmount: Type.Integer({ minimum: 1 }),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  source: MoneySourceSchema,
  observedAt: DateTimeSchema,
  requestId: Type.Optional(RequestIdSchema)
}, { additionalProperties: false }))

/** The merchant released (reversed) the payment through our API: the link is `released`. */
export const PaymentLinkReleased = defineEvent('payment-link.released', Type.Object({
  linkId: LinkIdSchema,
  paymentIntentId: PaymentIntentIdSchema,
  reversalId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  source: MoneySourceSchema,
  observedAt: DateTimeSchema,
  requestId: Type.Optional(RequestIdSchema)
}, { additionalProperties: false }))

/**
 * The customer opened the link (its short URL, served by link-issuer, which then sends them on to
 * Dojo's checkout). Not a status: a fact beside it. `opens` is the number of opens counted so far
 * (it only grows: a later event with a lower count is a late one); `firstOpenedAt` when the first
 * was. Published at the first open, then at most once a minute while opens keep coming.
 */
export const PaymentLinkOpened = defineEvent('payment-link.opened', Type.Object({
  linkId: LinkIdSchema,
  opens: Type.Integer({ minimum: 1 }),
  firstOpenedAt: DateTimeSchema
}, { additionalProperties: false }))

/**
 * The customer of this expired or canceled link asked for a fresh one, and got `renewedAs` (whose
 * `requested` names this link as `renewalOf`). Not a status: the link stays expired or canceled.
 */
export const PaymentLinkRenewed = defineEvent('payment-link.renewed', Type.Object({
  linkId: LinkIdSchema,
  renewedAs: LinkIdSchema
}, { additionalProperties: false }))

/**
 * A reminder of the unpaid link was e-mailed to its customer (the merchant's reminder policy):
 * `reminder` counts from 1 and each number is sent at most once, so its event id follows from it.
 * Not a status: a fact beside it, like `opened`.
 */
export const PaymentLinkReminded = defineEvent('payment-link.reminded', Type.Object({
  linkId: LinkIdSchema,
  reminder: Type.Integer({ minimum: 1, maximum: 100 }),
  messageId: Type.Optional(Type.String({ maxLength: 300 }))
}, { additionalProperties: false }))

/** Every event of a payment link's stream. */
export const paymentLinkEvents = [
  PaymentLinkRequested, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkSent,
  PaymentLinkCanceled, PaymentLinkWebhookReceived, PaymentLinkStatusChanged,
  PaymentLinkCaptured, PaymentLinkRefunded, PaymentLinkReleased, PaymentLinkOpened, PaymentLinkRenewed, PaymentLinkReminded
] as const

export type PaymentLinkEvent =
  | RecordedEventOf<typeof PaymentLinkRequested> | RecordedEventOf<typeof PaymentLinkIssued>
  | RecordedEventOf<typeof PaymentLinkIssueFailed> | RecordedEventOf<typeof PaymentLinkSent>
  | RecordedEventOf<typeof PaymentLinkCanceled> | RecordedEventOf<typeof PaymentLinkWebhookReceived>
  | RecordedEventOf<typeof PaymentLinkStatusChanged> | RecordedEventOf<typeof PaymentLinkCaptured>
  | RecordedEventOf<typeof PaymentLinkRefunded> | RecordedEventOf<typeof PaymentLinkReleased>
  | RecordedEventOf<typeof PaymentLinkOpened> | RecordedEventOf<typeof PaymentLinkRenewed> | RecordedEventOf<typeof PaymentLinkReminded>

/**
 * A link's status after one of its events: the one rule every service folds a link's history
 * with. Undefined until the link is requested (events of a link never requested make no link);
 * after that:
 * - a second `requested` changes nothing (a reference names one link forever);
 * - `issued` and a non-retryable `issue-failed` apply only to a `requested` link;
 * - a retryable `issue-failed` leaves the link `requested`: asking again may succeed;
 * - `canceled` applies only where cancelling is a forward move (`requested`, `issued`,
 *   `authorized`): a merchant's cancel that arrives after the payment (`paid`, `refunded`, …) is
 *   late and changes nothing, and Dojo's later `Canceled` webhook after ours is not a move;
 * - `status-changed` applies only when `to` is one forward move from the current status
 *   (`LINK_STATUS_MOVES`): a late, repeated or reordered report never moves a link back;
 * - `captured` moves an `authorized` link to `captured` (later captures are no move);
 * - `refunded` moves a link holding money to `refunded` when the refunded total reaches the
 *   captured total, else to `partially_refunded` (a second partial refund is no move);
 * - `released` moves an `authorized` or `paid` link to `released`.
 * The amounts follow with `linkAmountsAfter`.
 */
export function linkStatusAfter (status: LinkStatus | undefined, event: { type: string, data: Record<string, unknown> }): LinkStatus | undefined {
  if (status === undefined) return event.type === PaymentLinkRequested.type ? 'requested' : undefined
  switch (event.type) {
    case PaymentLinkIssued.type: return status === 'requested' ? 'issued' : status
    case PaymentLinkIssueFailed.type: return status === 'requested' && event.data.retryable !== true ? 'failed' : status
    case PaymentLinkCanceled.type: return isForwardMove(status, 'canceled') ? 'canceled' : status
    case PaymentLinkStatusChanged.type: {
      const to = renamedStatus(event.data.to) as LinkStatus
      return isForwardMove(status, to) ? to : status
    }
    case PaymentLinkCaptured.type: return isForwardMove(status, 'captured') ? 'captured' : status
    case PaymentLinkRefunded.type: {
      const to: LinkStatus = Number(event.data.refundedAmount) >= Number(event.data.capturedAmount) ? 'refunded' : 'partially_refunded'
      return isForwardMove(status, to) ? to : status
    }
    case PaymentLinkReleased.type: return isForwardMove(status, 'released') ? 'released' : status
    default: return status
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
/** An amount reported by an event: never below what it was, never above its cap. */
const grow = (current: number, reported: unknown, cap: number): number => Math.min(cap, Math.max(current, num(reported)))

/** What a link has captured and refunded, in minor units. */
export interface LinkAmounts {
  capturedAmount: number
  refundedAmount: number
}

/**
 * A link's amounts after one of its events, given its status and amounts before it and its
 * total: the money half of the one rule. Amounts only grow, and never past what holds them
 * (refunded ≤ captured ≤ total); events carry totals, so a repeated or reordered report of one
 * capture or refund changes nothing:
 * - `status-changed` sets them only when it moves the link (a late report is ignored whole);
 * - `captured` applies while the link is `authorized` or `captured`;
 * - `refunded` applies while money is held (`paid`, `captured`, `partially_refunded`).
 */
export function linkAmountsAfter (status: LinkStatus, amounts: LinkAmounts, total: number, event: { type: string, data: Record<string, unknown> }): LinkAmounts {
  switch (event.type) {
    case PaymentLinkStatusChanged.type: {
      if (linkStatusAfter(status, event) === status) return amounts
      const capturedAmount = grow(amounts.capturedAmount, event.data.capturedAmount, total)
      return { capturedAmount, refundedAmount: grow(amounts.refundedAmount, event.data.refundedAmount, capturedAmount) }
    }
    case PaymentLinkCaptured.type:
      if (!CAPTURABLE_STATUSES.has(status)) return amounts
      return { ...amounts, capturedAmount: grow(amounts.capturedAmount, event.data.capturedAmount, total) }
    case PaymentLinkRefunded.type: {
      if (!REFUNDABLE_STATUSES.has(status)) return amounts
      const capturedAmount = grow(amounts.capturedAmount, event.data.capturedAmount, total)
      return { capturedAmount, refundedAmount: grow(amounts.refundedAmount, event.data.refundedAmount, capturedAmount) }
    }
    default: return amounts
  }
}

/** Every link status. */
export const LINK_STATUSES: readonly LinkStatus[] = Object.keys(LINK_STATUS_MOVES) as LinkStatus[]

/**
 * `linkStatusAfter` for one event as data: the statuses of a link it moves, and where to. For a
 * table that applies an event without reading the row first: `status = moves ->> status`, where
 * `status` is one of the keys (a status that is not a key stays as it is).
 */
export function linkStatusMoves (event: { type: string, data: Record<string, unknown> }): Partial<Record<LinkStatus, LinkStatus>> {
  const moves: Partial<Record<LinkStatus, LinkStatus>> = {}
  for (const status of LINK_STATUSES) {
    const after = linkStatusAfter(status, event)
    if (after !== undefined && after !== status) moves[status] = after
  }
  return moves
}

/** Fold a link's events (in stream order) into its status; undefined for an empty history. */
export function foldLinkStatus (events: ReadonlyArray<{ type: string, data: Record<string, unknown> }>): LinkStatus | undefined {
  return events.reduce<LinkStatus | undefined>(linkStatusAfter, undefined)
}

/**
 * The forward moves that take a link from `from` to `to`, shortest first: `issued` → `refunded`
 * is `paid` then `refunded` (the report of the capture was lost). Empty when `to` is not ahead
 * of `from`: a late or reordered report, which never moves a link back.
 */
export function forwardPath (from: LinkStatus, to: LinkStatus): LinkStatus[] {
  if (from === to) return []
  const previous = new Map<LinkStatus, LinkStatus>()
  const queue: LinkStatus[] = [from]
  while (queue.length > 0) {
    const at = queue.shift()!
    for (const next of LINK_STATUS_MOVES[at]) {
      if (next === from || previous.has(next)) continue
      previous.set(next, at)
      if (next === to) {
        const path: LinkStatus[] = [to]
        let step = at
        while (step !== from) { path.unshift(step); step = previous.get(step)! }
        return path
      }
      queue.push(next)
    }
  }
  return []
}

/**
 * A link as its events tell it: the facts every service needs. A service that needs more
 * (link-issuer's request metadata, say) extends this shape and folds with `evolveLink`, never
 * re-deriving the status.
 */
export interface LinkState {
  linkId: string
  merchantId: string
  reference: string
  amount: Money
  description?: string
  /** The customer, sealed (or, from v1 events, in clear): open it with the customer's key. */
  customer?: CustomerRef
  expiresAt: string
  redirectUrl?: string
  /** The metadata fields that are not personal (those travel sealed in `customer`). */
  metadata?: Record<string, string>
  sendEmail: boolean
  source: 'api' | 'order'
  orderId?: string
  status: LinkStatus
  paymentIntentId?: string
  url?: string
  /** Why issuing failed, once the link is `failed`. */
  failure?: { reason: string, code?: string, retryable: boolean }
  emailSentAt?: string
  /** When the customer first opened the link's short URL, and how many opens are recorded. */
  openedAt?: string
  openCount: number
  /** The link this one renews (its `requested` says so), and the link that renewed this one. */
  renewalOf?: string
  renewedAs?: string
  /** The reusable link this link is one payer's of. */
  reusableLinkId?: string
  /** Reminders e-mailed so far (`payment-link.reminded`), and when the last one was. */
  reminders: number
  lastRemindedAt?: string
  /** Dojo capture mode: `Manual` links are `authorized` first and captured by the merchant. */
  captureMode: CaptureMode
  /** Minor units captured so far (the whole amount once an Auto link is paid). */
  capturedAmount: number
  /** Minor units refunded so far. */
  refundedAmount: number
  /** Dojo's capture ids recorded on the link, in order. */
  captureIds: string[]
  /** The refund ids recorded on the link, in order. */
  refundIds: string[]
  createdAt: string
  /** When the last event of the link (of any type) occurred. */
  updatedAt: string
  /** Position of the link's last event (of any type): the expected sequence of the next decision. */
  position: number
}

type FoldableEvent = Pick<RecordedEvent, 'type' | 'data' | 'occurredAt' | 'position'>

/**
 * Apply one event (upcast to its current version) to a link's state, by `linkStatusAfter`.
 * Undefined until the link is requested. The result is a new object holding every field of
 * `state`, so a service's extended state keeps its own fields through it.
 */
export function evolveLink (state: undefined, event: FoldableEvent): LinkState | undefined
export function evolveLink<S extends LinkState> (state: S, event: FoldableEvent): S
export function evolveLink<S extends LinkState> (state: S | undefined, event: FoldableEvent): S | LinkState | undefined
export function evolveLink<S extends LinkState> (state: S | undefined, event: FoldableEvent): S | LinkState | undefined {
  if (state === undefined) {
    if (!is(event, PaymentLinkRequested)) return undefined
    const d = event.data
    return {
      linkId: d.linkId,
      merchantId: d.merchantId,
      reference: d.reference,
      amount: d.amount,
      ...(d.description === undefined ? {} : { description: d.description }),
      ...(d.customer === undefined ? {} : { customer: d.customer }),
      expiresAt: d.expiresAt,
      ...(d.redirectUrl === undefined ? {} : { redirectUrl: d.redirectUrl }),
      ...(d.metadata === undefined ? {} : { metadata: d.metadata }),
      sendEmail: d.sendEmail,
      source: d.source,
      ...(d.orderId === undefined ? {} : { orderId: d.orderId }),
      ...(d.renewalOf === undefined ? {} : { renewalOf: d.renewalOf }),
      ...(d.reusableLinkId === undefined ? {} : { reusableLinkId: d.reusableLinkId }),
      status: 'requested',
      captureMode: d.captureMode ?? 'Auto',
      openCount: 0,
      reminders: 0,
      capturedAmount: 0,
      refundedAmount: 0,
      captureIds: [],
      refundIds: [],
      createdAt: event.occurredAt,
      updatedAt: event.occurredAt,
      position: event.position
    }
  }
  const status = linkStatusAfter(state.status, event) ?? state.status
  const { capturedAmount, refundedAmount } = linkAmountsAfter(state.status, state, state.amount.value, event)
  const next: S = { ...state, status, capturedAmount, refundedAmount, updatedAt: event.occurredAt, position: event.position }
  if (is(event, PaymentLinkCaptured) && CAPTURABLE_STATUSES.has(state.status) && !state.captureIds.includes(event.data.captureId)) {
    next.captureIds = [...state.captureIds, event.data.captureId]
  } else if (is(event, PaymentLinkRefunded) && REFUNDABLE_STATUSES.has(state.status) && !state.refundIds.includes(event.data.refundId)) {
    next.refundIds = [...state.refundIds, event.data.refundId]
  }
  if (status !== state.status) {
    if (is(event, PaymentLinkIssued)) {
      next.paymentIntentId = event.data.paymentIntentId
      next.url = event.data.url
      next.expiresAt = event.data.expiresAt
    } else if (is(event, PaymentLinkIssueFailed)) {
      const d = event.data
      next.failure = { reason: d.reason, retryable: d.retryable, ...(d.code === undefined ? {} : { code: d.code }) }
    }
  }
  if (is(event, PaymentLinkSent)) next.emailSentAt = event.occurredAt
  if (is(event, PaymentLinkOpened)) {
    next.openedAt ??= event.data.firstOpenedAt
    next.openCount = Math.max(state.openCount, event.data.opens)
  }
  // The first renewal stays the link's renewal (one renewal per link).
  if (is(event, PaymentLinkRenewed)) next.renewedAs ??= event.data.renewedAs
  if (is(event, PaymentLinkReminded) && event.data.reminder > state.reminders) {
    next.reminders = event.data.reminder
    next.lastRemindedAt = event.occurredAt
  }
  return next
}

/** Fold a link's events (stream order, upcast) into its state; undefined when it was never requested. */
export function foldLink (events: readonly FoldableEvent[]): LinkState | undefined {
  let state: LinkState | undefined
  for (const event of events) state = evolveLink(state, event)
  return state
}
