import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { ApiKeyAuthenticator } from '@paylinks/merchants'
import { ServiceError } from '@paylinks/service-kit'

declare module 'fastify' {
  interface FastifyRequest {
    /** The merchant a merchant API key acts for; set on authenticated routes. */
    merchantId: string
  }
}

/**
 * Merchant API keys (@paylinks/merchants), required on every route of the scope: 401 for a
 * missing or bad key, 403 for an analyst key (endpoints belong to a merchant), 429 before any
 * look-up for an address with too many failures.
 */
export const merchantKeyAuth = fp(async function merchantKeyAuth (app: FastifyInstance, options: { authenticator: ApiKeyAuthenticator }) {
  app.decorateRequest('merchantId', '')
  app.addHook('onRequest', async (request, reply) => {
    const result = await options.authenticator.authenticate(request.ip, request.headers.authorization)
    if (result.ok) {
      if (result.principal.scope !== 'merchant' || result.principal.merchantId === null) throw new ServiceError('AUTH_FORBIDDEN', 403, 'Webhook endpoints belong to a merchant: use a merchant API key.')
      request.merchantId = result.principal.merchantId
      return
    }
    if (result.reason === 'limited') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
      throw new ServiceError('AUTH_LIMITED', 429, `Too many failed authentications from this address: retry in ${seconds} s.`, { retryAfterSeconds: seconds })
    }
    reply.header('www-authenticate', 'Bearer realm="paylinks"')
    throw new ServiceError(result.reason === 'missing' ? 'AUTH_MISSING' : 'AUTH_INVALID', 401, result.reason === 'missing' ? 'Send an API key as `Authorization: Bearer <key>`.' : 'The API key is unknown or revoked.')
  })
}, { name: 'webhook-dispatch.merchant-key-auth' })
