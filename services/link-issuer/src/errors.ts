import { ServiceError } from '@paylinks/service-kit'

/** Stable codes link-issuer answers with. Check `error.code`, not `instanceof`. */
export const LinkErrorCodes = {
  unauthorized: 'LINK_UNAUTHORIZED',
  forbidden: 'LINK_FORBIDDEN',
  notFound: 'LINK_NOT_FOUND',
  referenceTaken: 'LINK_REFERENCE_TAKEN',
  orderTaken: 'LINK_ORDER_TAKEN',
  idempotencyMismatch: 'LINK_IDEMPOTENCY_MISMATCH',
  invalid: 'LINK_INVALID',
  emailUnavailable: 'LINK_EMAIL_UNAVAILABLE',
  notCancelable: 'LINK_NOT_CANCELABLE',
  /** POST …/email: the link is paid, canceled, expired or not issued. */
  notPayable: 'LINK_NOT_PAYABLE',
  noCustomerEmail: 'LINK_NO_CUSTOMER_EMAIL',
  emailFailed: 'LINK_EMAIL_FAILED',
  /** Renewal (POST /l/{code}/renew): the merchant does not allow it, or the link has not ended so. */
  renewalNotAllowed: 'LINK_RENEWAL_NOT_ALLOWED',
  notRenewable: 'LINK_NOT_RENEWABLE',
  dojoRefused: 'LINK_DOJO_REFUSED',
  dojoUnavailable: 'LINK_DOJO_UNAVAILABLE',
  inProgress: 'LINK_IN_PROGRESS',
  /** A read waited for the event log to record a write it must see (its own, or a Paylinks-Position sent), in vain. */
  notRecorded: 'LINK_NOT_RECORDED',
  contention: 'LINK_CONTENTION',
  merchantUnknown: 'LINK_MERCHANT_UNKNOWN',
  notIssued: 'LINK_NOT_ISSUED',
  rateLimited: 'LINK_RATE_LIMITED',
  authLimited: 'LINK_AUTH_LIMITED',
  customerNotFound: 'LINK_CUSTOMER_NOT_FOUND',
  /** Refunds, captures and releases (money/). */
  notRefundable: 'LINK_NOT_REFUNDABLE',
  overRefund: 'LINK_OVER_REFUND',
  notManual: 'LINK_NOT_MANUAL_CAPTURE',
  notCapturable: 'LINK_NOT_CAPTURABLE',
  overCapture: 'LINK_OVER_CAPTURE',
  notReleasable: 'LINK_NOT_RELEASABLE',
  idempotencyKeyRequired: 'LINK_IDEMPOTENCY_KEY_REQUIRED',
  /** Reusable links: a payer arrived after the limit was reached or the link was deactivated; a change to a deactivated link. */
  reusableUnavailable: 'LINK_REUSABLE_UNAVAILABLE',
  reusableInactive: 'LINK_REUSABLE_INACTIVE'
} as const
export type LinkErrorCode = typeof LinkErrorCodes[keyof typeof LinkErrorCodes]

/**
 * A refusal we show the caller (problem+json through service-kit's one error handler), 5xx
 * included: a 503 is transient (Retry-After, default 2 s), a 502 names what Dojo refused.
 */
export function linkError (code: LinkErrorCode, status: number, message: string, extra: Record<string, unknown> = {}, cause?: unknown, retryAfterSeconds?: number): ServiceError {
  const retry = retryAfterSeconds ?? (status === 503 ? 2 : undefined)
  return new ServiceError(code, status, message, { extra, expose: true, ...(retry === undefined ? {} : { retryAfterSeconds: retry }), ...(cause === undefined ? {} : { cause }) })
}
