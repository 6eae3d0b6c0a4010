/** Stable codes for what `merchants` reports. Check `error.code`, not `instanceof`. */
export const MerchantErrorCodes = {
  /** The encryption keys are missing or malformed. */
  keyConfig: 'MER_KEY_CONFIG',
  /** A stored secret cannot be decrypted with the configured keys (rotated away, or tampered). */
  decrypt: 'MER_DECRYPT',
  /** The merchant's settings are invalid (Dojo key against the wrong environment, bad URL…). */
  invalid: 'MER_INVALID',
  notFound: 'MER_NOT_FOUND'
} as const
export type MerchantErrorCode = typeof MerchantErrorCodes[keyof typeof MerchantErrorCodes]

export class MerchantError extends Error {
  readonly code: MerchantErrorCode
  constructor (code: MerchantErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'MerchantError'
    this.code = code
  }
}
