import { ServiceError } from '@paylinks/service-kit'

export const SandboxErrorCodes = {
  validation: 'DOJO_SANDBOX_VALIDATION',
  unauthorized: 'DOJO_SANDBOX_UNAUTHORIZED',
  notFound: 'DOJO_SANDBOX_NOT_FOUND',
  conflict: 'DOJO_SANDBOX_CONFLICT'
} as const

/**
 * An error the Dojo API routes render in ASP.NET's shape and the control routes as
 * problem+json. `fields` maps PascalCase property names to messages, like ASP.NET's `errors`.
 */
export class SandboxError extends ServiceError {
  readonly fields: Record<string, string[]> | undefined

  constructor (code: string, statusCode: number, message: string, fields?: Record<string, string[]>) {
    super(code, statusCode, message)
    this.name = 'SandboxError'
    this.fields = fields
  }
}

export function validationError (field: string, message: string): SandboxError {
  return new SandboxError(SandboxErrorCodes.validation, 400, message, { [field]: [message] })
}

export function notFound (what: string): SandboxError {
  return new SandboxError(SandboxErrorCodes.notFound, 404, `${what} not found.`)
}

export function conflict (message: string): SandboxError {
  return new SandboxError(SandboxErrorCodes.conflict, 409, message)
}

export function unauthorized (): SandboxError {
  return new SandboxError(SandboxErrorCodes.unauthorized, 401, 'Unauthorized.')
}
