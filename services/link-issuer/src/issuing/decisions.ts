import {
  linkStatusAfter, PaymentLinkCanceled, paymentLinkStream, splitMetadata, type AutoExpireAction, type CaptureMode, type Customer, type CustomerRef, type Money, type NewEvent
} from '@paylinks/contracts'
import { checkoutUrlFor } from '@paylinks/dojo-client'
import type { Merchant } from '@paylinks/merchants'
import { LinkErrorCodes, linkError } from '../errors.js'
import { registry, uuidFrom, type IssuerLinkState } from '../link.js'
import type { IntentOutcome } from './dojo-intent.js'

// Pure decisions: the state a command decided on in, the events to publish out (none when the
// command is already done). handleCommand calls them again on the reloaded state after a lost race.

export const PRODUCER = 'link-issuer'

export interface LinkRequest {
  merchant: Merchant
  reference: string
  amount: Money
  description?: string
  /** In clear as the caller sent it: never recorded so; `sealedCustomer` is. */
  customer?: Customer
  /** The customer's personal data (contact and personal metadata fields) sealed under its key. */
  sealedCustomer?: CustomerRef
  expiresAt?: string
  redirectUrl?: string
  metadata?: Record<string, string>
  sendEmail: boolean
  source: 'api' | 'order'
  orderId?: string
  /** Dojo capture mode (default Auto); Manual links may carry Dojo's auto-expiry. */
  captureMode?: CaptureMode
  autoExpireAction?: AutoExpireAction
  autoExpireIn?: string
  /** The expired or canceled link this request renews (the customer asked for a fresh one). */
  renewalOf?: string
  /** Same value on every retry of one request (idempotency key, order id): its replays find their link. */
  causationId: string
  correlationId: string
}

/** The metadata of the events decided on a link: traced back to the request that asked for it. */
export function metadataOf (state: Pick<IssuerLinkState, 'correlationId' | 'requestedBy'>): NewEvent['metadata'] {
  return { correlationId: state.correlationId, causationId: state.requestedBy, producer: PRODUCER }
}

/**
 * Request the link: `requested` for a new reference (the customer only as `sealedCustomer`, and
 * of the metadata only the fields that are not personal: nothing personal reaches the log in clear); nothing when the link is this request's own
 * (a replay); LINK_REFERENCE_TAKEN when another request holds the reference.
 */
export function decideRequest (state: IssuerLinkState | undefined, input: LinkRequest, linkId: string, now = new Date()): NewEvent[] {
  if (state !== undefined) {
    if (state.requestedBy !== input.causationId) {
      throw linkError(LinkErrorCodes.referenceTaken, 409, `Reference '${input.reference}' is already used by link ${linkId}.`, { linkId, reference: input.reference })
    }
    return []
  }
  const expiresAt = input.expiresAt ?? new Date(now.getTime() + input.merchant.linkExpiryHours * 3_600_000).toISOString()
  const redirectUrl = input.redirectUrl ?? input.merchant.defaultRedirectUrl ?? undefined
  const metadata = splitMetadata(input.metadata).rest
  return [registry.create('payment-link.requested', {
    linkId,
    merchantId: input.merchant.id,
    reference: input.reference,
    amount: input.amount,
    ...(input.description === undefined ? {} : { description: input.description }),
    ...(input.sealedCustomer === undefined ? {} : { customer: input.sealedCustomer }),
    expiresAt: new Date(expiresAt).toISOString(),
    ...(redirectUrl === undefined ? {} : { redirectUrl }),
    ...(metadata === undefined ? {} : { metadata }),
    sendEmail: input.sendEmail,
    source: input.source,
    ...(input.orderId === undefined ? {} : { orderId: input.orderId }),
    ...(input.captureMode !== 'Manual'
      ? {}
      : { captureMode: 'Manual' as const, autoExpireAction: input.autoExpireAction ?? 'Release', ...(input.autoExpireIn === undefined ? {} : { autoExpireIn: input.autoExpireIn }) }),
    ...(input.renewalOf === undefined ? {} : { renewalOf: input.renewalOf })
  }, { streamId: paymentLinkStream(linkId), metadata: { correlationId: input.correlationId, causationId: input.causationId, producer: PRODUCER } })]
}

/**
 * Record what Dojo made of the create: `issued` with the checkout URL, or a definite refusal as
 * a non-retryable `issue-failed`; nothing when the link is no longer requested (another holder
 * recorded its outcome first).
 */
export function decideOutcome (state: IssuerLinkState | undefined, outcome: IntentOutcome, dojoBaseUrl: string): NewEvent[] {
  if (state?.status !== 'requested') return []
  const streamId = paymentLinkStream(state.linkId)
  if ('refused' in outcome) {
    return [registry.create('payment-link.issue-failed', {
      linkId: state.linkId, merchantId: state.merchantId, reason: outcome.refused.reason, code: outcome.refused.code, retryable: false
    }, { streamId, metadata: metadataOf(state) })]
  }
  const { intent } = outcome
  return [registry.create('payment-link.issued', {
    linkId: state.linkId,
    merchantId: state.merchantId,
    paymentIntentId: intent.id,
    url: checkoutUrlFor(dojoBaseUrl, intent),
    expiresAt: typeof intent.expireAt === 'string' && !Number.isNaN(Date.parse(intent.expireAt)) ? new Date(intent.expireAt).toISOString() : state.expiresAt
  }, { streamId, metadata: metadataOf(state) })]
}

/** The code of the `issue-failed` recorded when a link's order was given up (and rejected). */
export const ORDER_ABANDONED_CODE = 'LINK_ORDER_ABANDONED'

/**
 * Stop a link whose order was given up: a non-retryable `issue-failed`, so nothing issues it after
 * the order's rejection; nothing when the link has its outcome already (issued first: then the
 * order is not rejected). Published on the state decided on, so the two can never both land.
 */
export function decideAbandon (state: IssuerLinkState | undefined, reason: string): NewEvent[] {
  if (state?.status !== 'requested') return []
  return [registry.create('payment-link.issue-failed', {
    linkId: state.linkId, merchantId: state.merchantId, reason: `The order was given up: ${reason}`.slice(0, 2000), code: ORDER_ABANDONED_CODE, retryable: false
  }, { streamId: paymentLinkStream(state.linkId), metadata: metadataOf(state) })]
}

/** Record that the link was e-mailed; nothing when a `sent` is recorded already. */
export function decideSent (state: IssuerLinkState | undefined, messageId: string): NewEvent[] {
  if (state === undefined || state.emailSentAt !== undefined) return []
  return [registry.create('payment-link.sent', {
    linkId: state.linkId, channel: 'email', ...(messageId === '' ? {} : { messageId: messageId.slice(0, 300) })
  }, { streamId: paymentLinkStream(state.linkId), metadata: metadataOf(state) })]
}

/** Record a resend (the link e-mailed again on the merchant's request): another `sent`. */
export function decideResent (state: IssuerLinkState | undefined, messageId: string): NewEvent[] {
  if (state === undefined) return []
  return [registry.create('payment-link.sent', {
    linkId: state.linkId, channel: 'email', ...(messageId === '' ? {} : { messageId: messageId.slice(0, 300) })
  }, { streamId: paymentLinkStream(state.linkId), metadata: metadataOf(state) })]
}

/**
 * Record the count of opens of the link's short URL, unless the link already has as many (a
 * repeat, or a later count got there first). Its id follows from the count: a retry is the same event.
 */
export function decideOpened (state: IssuerLinkState | undefined, count: { opens: number, firstOpenedAt: Date }): NewEvent[] {
  if (state === undefined || state.openCount >= count.opens) return []
  return [registry.create('payment-link.opened', {
    linkId: state.linkId, opens: count.opens, firstOpenedAt: (state.openedAt === undefined ? count.firstOpenedAt : new Date(state.openedAt)).toISOString()
  }, { id: uuidFrom(`${state.linkId} opened ${count.opens}`), streamId: paymentLinkStream(state.linkId), metadata: metadataOf(state) })]
}

/**
 * Record that reminder `reminder` was e-mailed, unless the link has had it already. Its id
 * follows from the link and the number: a retry, or another replica's, is the same event.
 */
export function decideReminded (state: IssuerLinkState | undefined, reminder: number, messageId: string): NewEvent[] {
  if (state === undefined || state.reminders >= reminder) return []
  return [registry.create('payment-link.reminded', {
    linkId: state.linkId, reminder, ...(messageId === '' ? {} : { messageId: messageId.slice(0, 300) })
  }, { id: uuidFrom(`${state.linkId} reminded ${reminder}`), streamId: paymentLinkStream(state.linkId), metadata: metadataOf(state) })]
}

/** True when the contracts' rule lets a `canceled` move the link now. */
export function isCancelable (state: Pick<IssuerLinkState, 'status'>): boolean {
  return linkStatusAfter(state.status, { type: PaymentLinkCanceled.type, data: {} }) === 'canceled' && state.status !== 'canceled'
}

/**
 * Record the merchant's cancel (Dojo has canceled the intent): nothing when it is canceled
 * already; LINK_NOT_CANCELABLE when the link moved past cancelling meanwhile (paid, say).
 */
export function decideCancel (state: IssuerLinkState | undefined, linkId: string, reason?: string): NewEvent[] {
  if (state === undefined) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
  if (state.status === 'canceled') return []
  if (!isCancelable(state)) {
    throw linkError(LinkErrorCodes.notCancelable, 409, `Link ${linkId} is ${state.status}; only an issued, unpaid link can be canceled.`, { linkId, status: state.status })
  }
  return [registry.create('payment-link.canceled', { linkId, ...(reason === undefined ? {} : { reason }) }, { streamId: paymentLinkStream(linkId), metadata: metadataOf(state) })]
}

/**
 * True when the link's customer may ask for a fresh one: it expired (or is issued past its expiry,
 * before Dojo says so) or was canceled. Paid, failed and released links are not renewed.
 */
export function isRenewable (state: Pick<IssuerLinkState, 'status' | 'expiresAt'>, now = Date.now()): boolean {
  return state.status === 'expired' || state.status === 'canceled' || (state.status === 'issued' && Date.parse(state.expiresAt) <= now)
}

/**
 * Record on the old link that `renewedAs` renews it; nothing when it is renewed already (one
 * renewal per link). Its id follows from the link: a retry is the same event.
 */
export function decideRenewed (state: IssuerLinkState | undefined, renewedAs: string): NewEvent[] {
  if (state === undefined || state.renewedAs !== undefined) return []
  return [registry.create('payment-link.renewed', { linkId: state.linkId, renewedAs }, {
    id: uuidFrom(`${state.linkId} renewed`), streamId: paymentLinkStream(state.linkId), metadata: metadataOf(state)
  })]
}
