import type { FastifyReply } from 'fastify'
import { ServiceError } from '@paylinks/service-kit'
import { ConsoleErrorCodes } from './errors.js'
import type { UpstreamResponse } from './upstream.js'

/**
 * A service's answer as the console's: a success as it is; a refusal (4xx) with the service's
 * status, code and message, its `errors` named as form fields (`/body/amount/value` →
 * `amount.value`); a failure (5xx) as a 503 or 502 saying which service, never its internals.
 */
export function relay (service: string, response: UpstreamResponse): any {
  if (response.status < 400) return response.json
  const problem = (response.json ?? {}) as { code?: string, detail?: string, errors?: Array<{ path?: string, message?: string }> }
  if (response.status === 401) {
    // The console's own key for the merchant was refused: revoked outside the console.
    throw new ServiceError(ConsoleErrorCodes.upstream, 502, `${service} refused the console's API key for this merchant (revoked?): an operator must look at it.`, { expose: true })
  }
  if (response.status >= 500) {
    throw new ServiceError(ConsoleErrorCodes.upstream, response.status === 503 ? 503 : 502, response.status === 503 ? `${service} is unavailable for a moment: try again shortly.` : `${service} could not do it: ${problem.detail ?? 'try again later.'}`, { expose: true, ...(response.status === 503 ? { retryAfterSeconds: 2 } : {}) })
  }
  const errors = problem.errors?.map((e) => {
    const field = (e.path ?? '').replace(/^\/(body|querystring)\//, '').replace(/\//g, '.')
    return { path: e.path ?? '', field, message: e.message ?? 'is invalid' }
  })
  throw new ServiceError(problem.code ?? ConsoleErrorCodes.invalid, response.status, problem.detail ?? `${service} refused the request.`, { extra: errors === undefined ? {} : { errors } })
}

/** Send a service's success with its own status (201, 202…). */
export async function relayed (reply: FastifyReply, service: string, response: UpstreamResponse): Promise<FastifyReply> {
  const body = relay(service, response)
  return await reply.code(response.status).send(body ?? null)
}
