import { Type, type Static } from '@sinclair/typebox'

/** The body of every error we send: RFC 9457 problem details, plus a stable `code`. */
export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'A URI naming the kind of problem; about:blank when the status says it all.' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.Optional(Type.String()),
  code: Type.Optional(Type.String({ description: 'Stable machine-readable code, e.g. LINK_NOT_FOUND.' })),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON pointer of the offending field.' }),
    field: Type.Optional(Type.String({ description: 'The same field as a form names it (`amount.value`).' })),
    message: Type.String()
  })))
}, { title: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details; extension members may follow.' })
export type Problem = Static<typeof ProblemSchema>

export const ServiceErrorCodes = {
  config: 'SVC_CONFIG',
  notFound: 'SVC_NOT_FOUND',
  validation: 'SVC_VALIDATION',
  badCursor: 'SVC_BAD_CURSOR',
  internal: 'SVC_INTERNAL',
  /** A dependency (Postgres, NATS) does not answer: /readyz says which. */
  unavailable: 'SVC_UNAVAILABLE'
} as const

export interface ServiceErrorOptions extends ErrorOptions {
  /** Extension members of the problem body. */
  extra?: Record<string, unknown>
  /** Sent as `Retry-After` (seconds): the refusal is transient. */
  retryAfterSeconds?: number
  /** Show the message and extras of a 5xx too (default: for 4xx, and 5xx with retryAfterSeconds). */
  expose?: boolean
}

/**
 * An error a service means to show its caller: a 4xx with a message worth reading, or a 5xx
 * marked `expose` (a transient 503 with its Retry-After, a 502 naming what upstream refused).
 * The one error handler renders it as problem+json; any other error is a 500 whose
 * message stays in the logs.
 */
export class ServiceError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly extra: Record<string, unknown>
  readonly expose: boolean
  readonly retryAfterSeconds: number | undefined

  constructor (code: string, statusCode: number, message: string, options: ServiceErrorOptions = {}) {
    super(message, options)
    this.name = 'ServiceError'
    this.code = code
    this.statusCode = statusCode
    this.extra = options.extra ?? {}
    this.expose = options.expose ?? (statusCode < 500 || options.retryAfterSeconds !== undefined)
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/** Config that cannot be used: every bad variable is named in one message. */
export class ConfigError extends Error {
  readonly code = ServiceErrorCodes.config
  readonly problems: string[]

  constructor (problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}
