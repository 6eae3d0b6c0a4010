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
    message: Type.String()
  })))
}, { title: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details; extension members may follow.' })
export type Problem = Static<typeof ProblemSchema>

export const ServiceErrorCodes = {
  config: 'SVC_CONFIG',
  notFound: 'SVC_NOT_FOUND',
  validation: 'SVC_VALIDATION',
  internal: 'SVC_INTERNAL'
} as const

/**
 * An error a service means to show its caller: a 4xx with a message worth reading.
 * The one error handler renders it as problem+json; any other error is a 500 whose
 * message stays in the logs.
 */
export class ServiceError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly extra: Record<string, unknown>

  constructor (code: string, statusCode: number, message: string, options: ErrorOptions & { extra?: Record<string, unknown> } = {}) {
    super(message, options)
    this.name = 'ServiceError'
    this.code = code
    this.statusCode = statusCode
    this.extra = options.extra ?? {}
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
