import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { ApiKeyAuthenticator, ApiKeyPrincipal } from '@paylinks/merchants'
import { ServiceError } from '@paylinks/service-kit'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who called, from `Authorization: Bearer <api key>`; set on authenticated routes. */
    principal: ApiKeyPrincipal
  }
}

/**
 * Bearer API keys (see @paylinks/merchants). Register inside the route scope it protects.
 * A merchant key sees its merchant only; an analyst key sees every merchant. An address with
 * too many failed authentications gets 429 before any look-up.
 */
export const apiKeyAuth = fp(async function apiKeyAuth (app: FastifyInstance, options: { authenticator: ApiKeyAuthenticator }) {
  app.decorateRequest('principal', null as unknown as ApiKeyPrincipal)
  app.addHook('onRequest', async (request) => {
    const result = await options.authenticator.authenticate(request.ip, request.headers.authorization)
    if (result.ok) {
      request.principal = result.principal
      return
    }
    if (result.reason === 'limited') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
      throw new ServiceError('AUTH_LIMITED', 429, `Too many failed authentications from this address: retry in ${seconds} s.`, { retryAfterSeconds: seconds })
    }
    if (result.reason === 'missing') throw new ServiceError('AUTH_MISSING', 401, 'Send an API key as `Authorization: Bearer <key>`.')
    throw new ServiceError('AUTH_INVALID', 401, 'The API key is unknown or revoked.')
  })
}, { name: 'projector.api-key-auth' })

/** The merchant a request may read: its own for a merchant key; the asked one (or all) for an analyst. */
export function merchantScope (request: FastifyRequest, asked: string | undefined): string | undefined {
  const { principal } = request
  if (principal.scope === 'analyst') return asked
  if (asked !== undefined && asked !== principal.merchantId) {
    throw new ServiceError('AUTH_FORBIDDEN', 403, `This key reads merchant ${String(principal.merchantId)} only.`)
  }
  return principal.merchantId ?? undefined
}
