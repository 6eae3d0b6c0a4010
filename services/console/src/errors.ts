import { ServiceError } from '@paylinks/service-kit'

/** Stable codes of the console's refusals (problem+json `code`). */
export const ConsoleErrorCodes = {
  signedOut: 'CONSOLE_SIGNED_OUT',
  forbidden: 'CONSOLE_FORBIDDEN',
  csrf: 'CONSOLE_CSRF',
  loginFailed: 'CONSOLE_LOGIN_FAILED',
  limited: 'CONSOLE_LIMITED',
  invalid: 'CONSOLE_INVALID',
  tokenExpired: 'CONSOLE_TOKEN_EXPIRED',
  conflict: 'CONSOLE_CONFLICT',
  notFound: 'CONSOLE_NOT_FOUND',
  upstream: 'CONSOLE_UPSTREAM'
} as const

/** One field's message, beside the field in the form: `amount.value` for `{ amount: { value } }`. */
export interface FieldError { field: string, message: string }

/** A form that does not validate: 400 with every field's message at once. */
export function invalidForm (errors: FieldError[]): ServiceError {
  return new ServiceError(ConsoleErrorCodes.invalid, 400, errors.map((e) => e.message).join(' '), {
    extra: { errors: errors.map((e) => ({ path: `/body/${e.field.replace(/\./g, '/')}`, field: e.field, message: e.message })) }
  })
}

export const tokenExpired = (): ServiceError =>
  new ServiceError(ConsoleErrorCodes.tokenExpired, 410, 'This link has expired or was already used. Ask for a new one.')
