/** Stable codes for what `contracts` refuses. Check `error.code`, not `instanceof`. */
export const ContractErrorCodes = {
  invalidEnvelope: 'CONTRACT_INVALID_ENVELOPE',
  unknownEvent: 'CONTRACT_UNKNOWN_EVENT',
  unsupportedVersion: 'CONTRACT_UNSUPPORTED_VERSION',
  invalidData: 'CONTRACT_INVALID_DATA',
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
