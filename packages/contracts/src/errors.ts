/** Stable codes for what `contracts` refuses. Check `error.code`, not `instanceof`. */
export const ContractErrorCodes = {
  invalidEnvelope: 'CONTRACT_INVALID_ENVELOPE',
  unknownEvent: 'CONTRACT_UNKNOWN_EVENT',
  unsupportedVersion: 'CONTRACT_UNSUPPORTED_VERSION',
  invalidData: 'CONTRACT_INVALID_DATA',
  /** The event's `metadata.producer` is not one allowed to publish its type. */
  producerNotAllowed: 'CONTRACT_PRODUCER_NOT_ALLOWED',
  duplicateDefinition: 'CONTRACT_DUPLICATE_DEFINITION'
} as const
export type ContractErrorCode = typeof ContractErrorCodes[keyof typeof ContractErrorCodes]

/** An event that is not one we know how to read, or does not match its schema. */
export class ContractError extends Error {
  readonly code: ContractErrorCode
  /** Each problem as `<json pointer>: <message>`. */
  readonly problems: string[]

  constructor (code: ContractErrorCode, message: string, problems: string[] = [], options?: ErrorOptions) {
    super(problems.length > 0 ? `${message}: ${problems.join('; ')}` : message, options)
    this.name = 'ContractError'
    this.code = code
    this.problems = problems
  }
}

/** The codes that mean "this process cannot read this event": a reader parks it and goes on. */
export const UNREADABLE_EVENT_CODES: ReadonlySet<string> = new Set([
  ContractErrorCodes.unknownEvent, ContractErrorCodes.unsupportedVersion, ContractErrorCodes.invalidData
])

/** True when `error` says an event cannot be read by this process (checked by code). */
export function isUnreadableEventError (error: unknown): error is ContractError {
  return typeof error === 'object' && error !== null && UNREADABLE_EVENT_CODES.has((error as { code?: unknown }).code as string)
}
