/** Stable codes for what webhook-ingest reports. Check `error.code`, not `instanceof`. */
export const IngestErrorCodes = {
  /** The `dojo-signature` header is missing or matches none of the merchant's secrets. */
  unauthorized: 'WH_UNAUTHORIZED',
  /** The body is larger than WEBHOOK_BODY_LIMIT_BYTES. */
  tooLarge: 'WH_TOO_LARGE',
  /** The body is not JSON, or not a Dojo payment-intent event. */
  malformed: 'WH_MALFORMED',
  /** No such merchant. */
  unknownMerchant: 'WH_UNKNOWN_MERCHANT',
  /** The link's state moved while deciding, too many times in a row: retried later. */
  contended: 'WH_CONTENDED',
  /** Dojo answered with something we cannot map to a link status. */
  unmappable: 'WH_UNMAPPABLE',
  /** A confirmation for an intent with no known link. */
  unknownLink: 'WH_UNKNOWN_LINK',
  /** A confirmation's lease was taken over (this worker stalled past it): its outcome is not published. */
  leaseLost: 'WH_LEASE_LOST',
  /** Subscription management failed for a merchant. */
  subscription: 'WH_SUBSCRIPTION'
} as const
export type IngestErrorCode = typeof IngestErrorCodes[keyof typeof IngestErrorCodes]

export class IngestError extends Error {
  readonly code: IngestErrorCode
  constructor (code: IngestErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IngestError'
    this.code = code
  }
}
