import type { ServiceError } from '@paylinks/service-kit'
import { LinkErrorCodes, linkError, type LinkErrorCode } from './errors.js'

/** Why a link request cannot be taken: `path` is a JSON pointer into the request. */
export interface LinkRequestProblem {
  code: LinkErrorCode
  status: 400 | 422
  message: string
  path?: string
}

const MIN_EXPIRY_MS = 60_000
const MAX_EXPIRY_MS = 365 * 86_400_000

/**
 * The checks a link request passes beyond its schema, the same for an API request and an
 * order: the first problem, or undefined.
 */
export function checkLinkRequest (request: { sendEmail: boolean, customer?: { email?: string | undefined } | undefined, expiresAt?: string | undefined }, context: { emailAvailable: boolean, now?: number }): LinkRequestProblem | undefined {
  const now = context.now ?? Date.now()
  if (request.expiresAt !== undefined) {
    const at = Date.parse(request.expiresAt)
    if (!(at > now + MIN_EXPIRY_MS && at <= now + MAX_EXPIRY_MS)) {
      return { code: LinkErrorCodes.invalid, status: 400, path: '/expiresAt', message: 'must be between one minute and 365 days from now' }
    }
  }
  if (request.sendEmail && request.customer?.email === undefined) {
    return { code: LinkErrorCodes.invalid, status: 400, path: '/customer/email', message: 'is required when sendEmail is true' }
  }
  if (request.sendEmail && !context.emailAvailable) {
    return { code: LinkErrorCodes.emailUnavailable, status: 422, message: 'This service sends no e-mail (no SMTP configured): omit sendEmail and deliver the link yourself.' }
  }
  return undefined
}

/** The problem as the API's refusal, its path under `prefix` (e.g. `/body/expiresAt`). */
export function linkRequestError (problem: LinkRequestProblem, prefix: string): ServiceError {
  if (problem.path === undefined) return linkError(problem.code, problem.status, problem.message)
  const path = `${prefix}${problem.path}`
  return linkError(problem.code, problem.status, `${path} ${problem.message}.`, { errors: [{ path, message: problem.message }] })
}
