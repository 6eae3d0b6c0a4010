/** Stable codes for what `dojo-client` reports. Check `error.code`, not `instanceof`. */
export const DojoErrorCodes = {
  /** The client options are wrong (bad URL, key prefix, or a production key against an emulator). */
  config: 'DOJO_CONFIG',
  /** The call's arguments were refused before anything was sent (e.g. a fractional amount). */
  invalidInput: 'DOJO_INVALID_INPUT',
  /** Dojo answered 400; `errors` maps PascalCase field names to messages. */
  validation: 'DOJO_VALIDATION',
  /** Dojo answered 401: the key is missing, wrong, or for the other environment. */
  unauthorized: 'DOJO_UNAUTHORIZED',
  /** Dojo answered 404: unknown id (or a canceled intent read without `returnCanceled`). */
  notFound: 'DOJO_NOT_FOUND',
  /** Dojo answered 409: the intent's (or secret's) state does not allow the operation. */
  conflict: 'DOJO_CONFLICT',
  /** Dojo answered another 4xx (403, 405, 429 after the retries, ...). */
  request: 'DOJO_REQUEST',
  /** 5xx or a network failure, after the bounded retries. */
  unavailable: 'DOJO_UNAVAILABLE',
  /** No complete answer within `timeoutMs`, after the bounded retries. */
  timeout: 'DOJO_TIMEOUT',
  /** Dojo answered 2xx with a body that does not match the contract. */
  response: 'DOJO_RESPONSE',
  /** The client was closed. */
  closed: 'DOJO_CLOSED'
} as const
export type DojoErrorCode = typeof DojoErrorCodes[keyof typeof DojoErrorCodes]

export interface DojoErrorOptions extends ErrorOptions {
  /** HTTP status of Dojo's answer, when there was one. */
  status?: number
  /** Dojo's `traceId` (quote it to Dojo support). */
  traceId?: string
  /** ASP.NET validation errors: `{ "Reference": ["The Reference field is required."] }`. */
  errors?: Record<string, string[]>
  /** The problem details body as Dojo sent it, or other context (never the secret key). */
  details?: Record<string, unknown>
  /** `METHOD /path` of the call. */
  operation?: string
  /** How many HTTP attempts were made. */
  attempts?: number
  /**
   * True when a non-idempotent request may have reached Dojo without us seeing the answer
   * (timeout, 5xx, connection reset): look the result up before trying again.
   */
  outcomeUnknown?: boolean
}

/** Every failure of the client. Messages never contain the secret key. */
export class DojoError extends Error {
  readonly code: DojoErrorCode
  readonly status: number | undefined
  readonly traceId: string | undefined
  readonly errors: Record<string, string[]>
  readonly details: Record<string, unknown>
  readonly operation: string | undefined
  readonly attempts: number | undefined
  readonly outcomeUnknown: boolean

  constructor (code: DojoErrorCode, message: string, options: DojoErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause })
    this.name = 'DojoError'
    this.code = code
    this.status = options.status
    this.traceId = options.traceId
    this.errors = options.errors ?? {}
    this.details = options.details ?? {}
    this.operation = options.operation
    this.attempts = options.attempts
    this.outcomeUnknown = options.outcomeUnknown ?? false
  }
}

/** True when `error` is a DojoError with that code (duck-typed: works across module copies). */
export function isDojoError (error: unknown, code?: DojoErrorCode): error is DojoError {
  if (typeof error !== 'object' || error === null) return false
  const c = (error as { code?: unknown }).code
  return typeof c === 'string' && c.startsWith('DOJO_') && (code === undefined || c === code)
}

const REFUSALS: ReadonlySet<string> = new Set<DojoErrorCode>([
  DojoErrorCodes.config, DojoErrorCodes.invalidInput, DojoErrorCodes.validation, DojoErrorCodes.unauthorized,
  DojoErrorCodes.notFound, DojoErrorCodes.conflict, DojoErrorCodes.request
])

/**
 * True when Dojo (or the client, before sending) definitely refused the call: asking the same
 * again will not succeed and nothing was done. False for every other failure (timeout, 5xx, a
 * reset, a malformed answer, a closed client) and for errors that are not the client's: the
 * outcome is unknown, so look the result up before trying again.
 */
export function isDojoRefusal (error: unknown): error is DojoError {
  return isDojoError(error) && REFUSALS.has(error.code)
}
