/** Stable codes for what `commands` reports. Check `error.code`, not `instanceof`. */
export const CommandErrorCodes = {
  /** The stream kept moving: every bounded attempt lost its race. The cause is the last conflict. */
  contended: 'CMD_CONTENDED',
  /** The options are not usable (checked up front). */
  config: 'CMD_CONFIG'
} as const
export type CommandErrorCode = typeof CommandErrorCodes[keyof typeof CommandErrorCodes]

export class CommandError extends Error {
  readonly code: CommandErrorCode
  readonly details: Record<string, unknown>

  constructor (code: CommandErrorCode, message: string, options: ErrorOptions & { details?: Record<string, unknown> } = {}) {
    super(message, options)
    this.name = 'CommandError'
    this.code = code
    this.details = options.details ?? {}
  }
}
