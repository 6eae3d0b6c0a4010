import { createHash } from 'node:crypto'
import {
  createEventRegistry, domainEvents, type Customer, type LinkStatus, type Money, type RecordedEvent
} from '@paylinks/contracts'

/** Every event type this process reads or writes. */
export const registry = createEventRegistry(domainEvents)

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

/**
 * A link's id follows from the merchant and its reference: a reference names one link forever,
 * so two racing requests for it meet on one stream and the expected sequence picks one.
 */
export function linkIdFor (merchantId: string, reference: string): string {
  return `lnk_${digest(`${merchantId}\u0000${reference}`).slice(0, 22)}`
}

/** The reference sent to Dojo: the merchant's (shortened) plus the link id, so it is unique. */
export function dojoReferenceFor (reference: string, linkId: string): string {
  return `${reference.slice(0, 60 - linkId.length - 1)} ${linkId}`
}

/** A UUID derived from text: for events whose re-publication must be recognised as the same. */
export function uuidFrom (text: string): string {
  const h = createHash('sha256').update(text).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** A link as its events tell it. */
export interface LinkState {
  linkId: string
  merchantId: string
  reference: string
  amount: Money
  description?: string
  customer?: Customer
  expiresAt: string
  redirectUrl?: string
  metadata?: Record<string, string>
  sendEmail: boolean
  source: 'api' | 'order'
  orderId?: string
  /** The causation id of the request that asked for it: its replays are the same request. */
  requestedBy: string
  correlationId: string
  status: LinkStatus
  paymentIntentId?: string
  url?: string
  failure?: { reason: string, code?: string, retryable: boolean }
  emailSentAt?: string
  createdAt: string
  updatedAt: string
  /** Position of the stream's last event (of any type): the expected sequence of the next. */
  position: number
  events: RecordedEvent[]
}

/** Fold a link's recorded events; undefined when it was never requested. */
export function foldLink (recorded: RecordedEvent[]): LinkState | undefined {
  let state: LinkState | undefined
  const events: RecordedEvent[] = []
  for (const raw of recorded) {
    const event = registry.has(raw.type) ? registry.upcast(raw) : raw
    events.push(event)
    const d = event.data as any
    if (event.type === 'payment-link.requested') {
      state = {
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
        requestedBy: event.metadata.causationId ?? event.metadata.correlationId,
        correlationId: event.metadata.correlationId,
        status: 'requested',
        createdAt: event.occurredAt,
        updatedAt: event.occurredAt,
        position: event.position,
        events
      }
      continue
    }
    if (state === undefined) continue
    state.position = event.position
    state.updatedAt = event.occurredAt
    switch (event.type) {
      case 'payment-link.issued':
        if (state.status === 'requested') {
          state.status = 'issued'
          state.paymentIntentId = d.paymentIntentId
          state.url = d.url
          state.expiresAt = d.expiresAt
        }
        break
      case 'payment-link.issue-failed':
        if (state.status === 'requested') {
          state.status = 'failed'
          state.failure = { reason: d.reason, retryable: d.retryable, ...(d.code === undefined ? {} : { code: d.code }) }
        }
        break
      case 'payment-link.canceled':
        state.status = 'canceled'
        break
      case 'payment-link.sent':
        state.emailSentAt = event.occurredAt
        break
      case 'payment-link.status-changed':
        state.status = d.to
        break
    }
  }
  if (state !== undefined) state.position = recorded.at(-1)?.position ?? state.position
  return state
}

/** What partners see of a link. */
export function linkView (state: LinkState): Record<string, unknown> {
  return {
    id: state.linkId,
    reference: state.reference,
    status: state.status,
    url: state.url ?? null,
    paymentIntentId: state.paymentIntentId ?? null,
    amount: state.amount,
    ...(state.description === undefined ? {} : { description: state.description }),
    ...(state.customer === undefined ? {} : { customer: state.customer }),
    expiresAt: state.expiresAt,
    ...(state.redirectUrl === undefined ? {} : { redirectUrl: state.redirectUrl }),
    ...(state.metadata === undefined ? {} : { metadata: state.metadata }),
    source: state.source,
    ...(state.orderId === undefined ? {} : { orderId: state.orderId }),
    email: { requested: state.sendEmail, sentAt: state.emailSentAt ?? null },
    ...(state.failure === undefined ? {} : { failure: { reason: state.failure.reason, ...(state.failure.code === undefined ? {} : { code: state.failure.code }) } }),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt
  }
}
