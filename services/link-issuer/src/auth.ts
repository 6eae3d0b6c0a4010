import type { FastifyInstance } from 'fastify'
import type { ApiKeyAuthenticator, ApiKeyPrincipal } from '@paylinks/merchants'
import { LinkErrorCodes, linkError } from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiKeyPrincipal
  }
}

/**
 * Require `Authorization: Bearer <api key>` on every route of the scope: 401 for a missing or
 * bad key, 429 (before any look-up) for an address with too many failures.
 */
export function requireApiKey (app: FastifyInstance, authenticator: ApiKeyAuthenticator): void {
  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization
    const result = await authenticator.authenticate(request.ip, header)
    if (result.ok) {
      request.principal = result.principal
      return
    }
    if (result.reason === 'limited') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
      throw linkError(LinkErrorCodes.authLimited, 429, `Too many failed authentications from this address: retry in ${seconds} s.`, {}, undefined, seconds)
    }
    reply.header('www-authenticate', 'Bearer realm="paylinks"')
    throw linkError(LinkErrorCodes.unauthorized, 401, result.reason === 'missing'
      ? 'Send your API key as `Authorization: Bearer <key>`.'
      : 'The API key is malformed, unknown or revoked.')
  })
}
