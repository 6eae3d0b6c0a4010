import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { ApiKeyAuthenticator, Merchant } from '@paylinks/merchants'
import { problemResponses, routeDefaults } from '@paylinks/service-kit'
import { requireApiKey } from '../auth.js'
import type { MerchantDirectory } from '../dojo.js'
import { LinkErrorCodes, linkError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The merchant of the caller's API key; 403 for an analyst key or a merchant gone. Set by the partner API guard. */
    merchant: () => Promise<Merchant>
  }
}

export interface PartnerApiOptions {
  authenticator: ApiKeyAuthenticator
  merchants: MerchantDirectory
  rateLimit: { max: number, timeWindow: number }
}

/** How a guarded route documents its security: a Bearer API key. */
export const PARTNER_SECURITY = [{ apiKey: [] }]

/**
 * The guard of the partner API, for every route of the scope it is registered in (links and
 * money alike): `Authorization: Bearer <api key>` (401, 429 for an address that fails too
 * often), one rate-limit budget per API key across all those routes (429), and
 * `request.merchant()` for routes that act for a merchant (403 for an analyst key). The
 * document says so on each route: its security and those problem responses.
 */
export const partnerApi = fp(async function partnerApi (app: FastifyInstance, options: PartnerApiOptions) {
  const { merchants } = options
  routeDefaults(app, { security: PARTNER_SECURITY, response: problemResponses(401, 429) })
  requireApiKey(app, options.authenticator)
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: options.rateLimit.max,
    timeWindow: options.rateLimit.timeWindow,
    keyGenerator: (request) => request.principal?.keyId ?? request.ip,
    errorResponseBuilder: (_request, context) => linkError(LinkErrorCodes.rateLimited, 429, `Too many requests for this API key: at most ${context.max} per ${context.after}. Retry later.`)
  })
  app.decorateRequest('merchant', async function merchant (this: FastifyRequest): Promise<Merchant> {
    const principal = this.principal!
    if (principal.scope !== 'merchant' || principal.merchantId === null) {
      throw linkError(LinkErrorCodes.forbidden, 403, 'This needs a merchant API key; analyst keys only read.')
    }
    const found = await merchants.get(principal.merchantId)
    if (found === undefined) throw linkError(LinkErrorCodes.forbidden, 403, 'The merchant of this API key no longer exists.')
    return found
  })
}, { name: 'link-issuer.partner-api', fastify: '5.x' })
