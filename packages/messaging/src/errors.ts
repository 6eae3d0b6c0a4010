/** Stable codes for what `messaging` reports. Check `error.code`, not `instanceof`. */
export const MessagingErrorCodes = {
  /** The expected last subject sequence did not match: someone else published first. Reload and decide again. */
  concurrency: 'MSG_CONCURRENCY',
  /** JetStream did not acknowledge within the timeout, after the bounded retries. */
  timeout: 'MSG_TIMEOUT',
  /** JetStream refused the publish for another reason (no stream for the subject, limits). */
  publish: 'MSG_PUBLISH',
  /** A stream or consumer could not be declared as configured. */
  config: 'MSG_CONFIG',
  /** A message body is not an event envelope. */
  decode: 'MSG_DECODE',
  /** The connection is closed. */
  closed: 'MSG_CLOSED'
} as const
export type MessagingErrorCode = typeof MessagingErrorCodes[keyof typeof MessagingErrorCodes]

export class MessagingError extends Error {
  readonly code: MessagingErrorCode
  readonly details: Record<string, unknown>

  constructor (code: MessagingErrorCode, message: string, options: ErrorOptions & { details?: Record<string, unknown> } = {}) {
    super(message, options)
    this.name = 'MessagingError'
    this.code = code
    this.details = options.details ?? {}
  }
}
