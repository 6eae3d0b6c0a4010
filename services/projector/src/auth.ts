import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import { authenticateApiKey, type ApiKeyPrincipal, type MerchantTables } from '@paylinks/merchants'
import { ServiceError } from '@paylinks/service-kit'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who called, from `Authorization: Bearer <api key>`; set on authenticated routes. */
    principal: ApiKeyPrincipal
  }
}

/**
 * Bearer API keys (see @paylinks/merchants). Register inside the route scope it protects.
 * A merchant key sees its merchant only; an analyst key sees every merchant.
 */
export const apiKeyAuth = fp(async function apiKeyAuth (app: FastifyInstance, options: { db: Kysely<MerchantTables> }) {
  app.decorateRequest('principal', null as unknown as ApiKeyPrincipal)
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header)
    if (match === null) throw new ServiceError('AUTH_MISSING', 401, 'Send an API key as `Authorization: Bearer <key>`.')
    const principal = await authenticateApiKey(options.db, match[1]!)
    if (principal === undefined) throw new ServiceError('AUTH_INVALID', 401, 'The API key is unknown or revoked.')
    request.principal = principal
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
