import { Type, type Static } from '@sinclair/typebox'
import {
  linkStatusAfter, MoneySchema, PaymentLinkCanceled, PaymentLinkCaptured, PaymentLinkIssued, PaymentLinkIssueFailed, PaymentLinkRequested, PaymentLinkStatusChanged,
  WebhookDisabledReasonSchema, WebhookEventTypeSchema, type LinkStatus, type Money, type WebhookEventType
} from '@paylinks/contracts'

/** The payload's schema version: a change of shape is a new version, announced, never silent. */
export const PAYLOAD_VERSION = 1
/** Refunds, as the money work records them (by type: this code does not need its definition). */
export const PAYMENT_LINK_REFUNDED = 'payment-link.refunded'

const DateTime = Type.String({ format: 'date-time' })

export const LinkWebhookDataSchema = Type.Object({
  linkId: Type.String(),
  reference: Type.String({ description: 'the merchant\'s reference for the payment' }),
  orderId: Type.Optional(Type.String()),
  status: Type.String({ description: 'the link\'s status after this event (issued, paid, canceled, expired, failed, partially_refunded, refunded)' }),
  amount: MoneySchema,
  paymentIntentId: Type.Optional(Type.String()),
  url: Type.Optional(Type.String({ description: 'payment_link.issued: the link to pay' })),
  expiresAt: Type.Optional(DateTime),
  capturedAmount: Type.Optional(Type.Integer({ description: 'payment_link.paid: minor units captured' })),
  refundedAmount: Type.Optional(Type.Integer({ description: 'payment_link.refunded: minor units refunded in total so far' })),
  refund: Type.Optional(Type.Object({ refundId: Type.String(), amount: MoneySchema }, { description: 'payment_link.refunded: this refund, when the refund is known by itself' })),
  failure: Type.Optional(Type.Object({ code: Type.Optional(Type.String()) }, { description: 'payment_link.failed: why Dojo refused the link' }))
}, { title: 'PaymentLinkWebhookData', description: 'No customer personal data is ever sent.' })

export const EndpointDisabledDataSchema = Type.Object({
  endpointId: Type.String(),
  url: Type.String(),
  reason: WebhookDisabledReasonSchema,
  detail: Type.Optional(Type.String()),
  failingSince: Type.Optional(DateTime)
}, { title: 'WebhookEndpointDisabledData' })

/**
 * What a partner's endpoint receives, version 1. `id` is the recorded event's id: the same in
 * `webhook-id`, on every attempt and every replay, so receivers de-duplicate by it.
 */
export const WebhookPayloadSchema = Type.Object({
  id: Type.String({ description: 'the event id (also webhook-id): de-duplicate by it' }),
  type: Type.Union([WebhookEventTypeSchema, Type.Literal('webhook_endpoint.test')]),
  version: Type.Literal(PAYLOAD_VERSION),
  createdAt: DateTime,
  timestamp: Type.String({ format: 'date-time', description: 'the same as createdAt (Standard Webhooks\' name): when the event occurred, not when it was sent' }),
  data: Type.Union([LinkWebhookDataSchema, EndpointDisabledDataSchema, Type.Object({ endpointId: Type.String(), message: Type.String() }, { title: 'WebhookTestData' })])
}, { title: 'WebhookPayload' })
export type WebhookPayload = Static<typeof WebhookPayloadSchema>

/** What dispatch keeps of a link: enough for a payload, nothing personal. */
export interface LinkView {
  linkId: string
  merchantId: string
  reference: string
  orderId?: string | undefined
  amount: Money
  status: LinkStatus
  paymentIntentId?: string | undefined
  refundedAmount: number
  /** Refunds have been recorded one by one (`payment-link.refunded`): status reports of them are not sent again. */
  refundEvents: boolean
}

interface SourceEvent { id: string, type: string, data: Record<string, any>, occurredAt: string }

/** A link's view after one of its events, by the contracts' status rule. */
export function evolveView (view: LinkView | undefined, event: SourceEvent): LinkView | undefined {
  const d = event.data
  if (view === undefined) {
    if (event.type !== PaymentLinkRequested.type) return undefined
    return { linkId: d.linkId, merchantId: d.merchantId, reference: d.reference, orderId: d.orderId, amount: d.amount, status: 'requested', refundedAmount: 0, refundEvents: false }
  }
  if (event.type === PAYMENT_LINK_REFUNDED) {
    const refunded = typeof d.refundedAmount === 'number' ? d.refundedAmount : view.refundedAmount + Number(d.amount?.value ?? 0)
    // The status rule of this build may not know refunds by event: a full refund is `refunded`.
    const status = linkStatusAfter(view.status, event) ?? view.status
    return { ...view, refundedAmount: refunded, refundEvents: true, status: status === view.status && refunded >= view.amount.value && view.status === 'paid' ? 'refunded' : status }
  }
  const status = linkStatusAfter(view.status, event) ?? view.status
  const next: LinkView = { ...view, status }
  if (event.type === PaymentLinkIssued.type && status !== view.status) next.paymentIntentId = d.paymentIntentId
  if (event.type === PaymentLinkStatusChanged.type && status !== view.status) next.refundedAmount = Math.max(view.refundedAmount, Number(d.refundedAmount ?? 0))
  return next
}

export interface PartnerEvent {
  merchantId: string
  type: WebhookEventType
  payload: WebhookPayload
}

/**
 * The partner event a recorded event makes, if any: only moves of the link's status count (a
 * late, repeated or reordered report sends nothing).
 *   payment-link.issued → payment_link.issued; status-changed to paid or captured → paid;
 *   canceled (ours or Dojo's) → canceled; to expired → expired; a non-retryable issue-failed →
 *   failed; payment-link.refunded (each refund, partial or full) → refunded, and a status report
 *   of a refund → refunded where refunds are not recorded one by one.
 */
export function toPartnerEvent (event: SourceEvent, before: LinkView | undefined, after: LinkView | undefined): PartnerEvent | undefined {
  if (before === undefined || after === undefined) return undefined
  const d = event.data
  const moved = after.status !== before.status
  const base = {
    linkId: after.linkId,
    reference: after.reference,
    ...(after.orderId === undefined ? {} : { orderId: after.orderId }),
    status: after.status as string,
    amount: after.amount,
    ...(after.paymentIntentId === undefined ? {} : { paymentIntentId: after.paymentIntentId })
  }
  let type: WebhookEventType | undefined
  let data: Record<string, unknown> = base
  if (event.type === PaymentLinkIssued.type && moved) {
    type = 'payment_link.issued'
    data = { ...base, url: d.url, expiresAt: d.expiresAt }
  } else if (event.type === PaymentLinkIssueFailed.type && moved && after.status === 'failed') {
    type = 'payment_link.failed'
    data = { ...base, failure: d.code === undefined ? {} : { code: d.code } }
  } else if (event.type === PaymentLinkCanceled.type && moved) {
    type = 'payment_link.canceled'
  } else if (event.type === PAYMENT_LINK_REFUNDED) {
    type = 'payment_link.refunded'
    const full = after.refundedAmount >= after.amount.value
    data = {
      ...base,
      status: full ? 'refunded' : 'partially_refunded',
      refundedAmount: after.refundedAmount,
      ...(typeof d.refundId === 'string' && d.amount !== undefined ? { refund: { refundId: d.refundId, amount: d.amount } } : {})
    }
  } else if (event.type === PaymentLinkCaptured.type && moved && after.status === 'captured') {
    // A Manual link's first capture is its payment: later partial captures move no status.
    type = 'payment_link.paid'
    data = { ...base, capturedAmount: Number(d.capturedAmount ?? 0) }
  } else if (event.type === PaymentLinkStatusChanged.type && moved) {
    const to = after.status as string
    if ((to === 'paid' || to === 'captured') && before.status !== 'paid') {
      type = 'payment_link.paid'
      data = { ...base, capturedAmount: Number(d.capturedAmount ?? 0) }
    } else if (to === 'expired') {
      type = 'payment_link.expired'
    } else if (to === 'canceled') {
      type = 'payment_link.canceled'
    } else if ((to === 'refunded' || to === 'partially_refunded') && !after.refundEvents) {
      type = 'payment_link.refunded'
      data = { ...base, refundedAmount: after.refundedAmount }
    }
  }
  if (type === undefined) return undefined
  return { merchantId: after.merchantId, type, payload: payloadOf(event, type, data) }
}

/** The envelope every payload has. */
export function payloadOf (event: { id: string, occurredAt: string }, type: WebhookPayload['type'], data: Record<string, unknown>): WebhookPayload {
  return { id: event.id, type, version: PAYLOAD_VERSION, createdAt: event.occurredAt, timestamp: event.occurredAt, data: data as WebhookPayload['data'] }
}
