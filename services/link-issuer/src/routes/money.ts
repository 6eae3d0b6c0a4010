import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { ApiKeyAuthenticator, Merchant } from '@paylinks/merchants'
import { ProblemSchema } from '@paylinks/service-kit'
import { requireApiKey } from '../auth.js'
import type { MerchantDirectory } from '../dojo.js'
import { LinkErrorCodes, linkError } from '../errors.js'
import type { IssuerLinkState } from '../link.js'
import type { Money } from '../money/operations.js'
import {
  CaptureBodySchema, CaptureResultSchema, MoneyHeadersSchema, RefundBodySchema, RefundResultSchema, ReleaseHeadersSchema, ReleaseResultSchema
} from '../money/schemas.js'
import type { ReadYourWrites } from '../read-your-writes.js'
import { LinkParamsSchema } from '../schemas.js'
import { POSITION_HEADER } from './links.js'

export interface MoneyRoutesOptions {
  money: Money
  merchants: MerchantDirectory
  authenticator: ApiKeyAuthenticator
  readYourWrites: ReadYourWrites
  rateLimit: { max: number, timeWindow: number }
}

const problems = (...statuses: number[]): Record<number, typeof ProblemSchema> => Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))
const tags = ['payment links']

/** Refunds, captures and releases of a link, under /v1: merchant API keys only. */
export default async function moneyRoutes (fastify: FastifyInstance, options: MoneyRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { money, merchants, readYourWrites } = options
  requireApiKey(app, options.authenticator)
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: options.rateLimit.max,
    timeWindow: options.rateLimit.timeWindow,
    keyGenerator: (request) => request.principal?.keyId ?? request.ip,
    errorResponseBuilder: (_request, context) => linkError(LinkErrorCodes.rateLimited, 429, `Too many requests for this API key: at most ${context.max} per ${context.after}. Retry later.`)
  })

  async function merchantOf (request: FastifyRequest): Promise<Merchant> {
    const principal = request.principal!
    if (principal.scope !== 'merchant' || principal.merchantId === null) {
      throw linkError(LinkErrorCodes.forbidden, 403, 'Moving money needs a merchant API key; analyst keys only read.')
    }
    const merchant = await merchants.get(principal.merchantId)
    if (merchant === undefined) throw linkError(LinkErrorCodes.forbidden, 403, 'The merchant of this API key no longer exists.')
    return merchant
  }

  function view (reply: FastifyReply, state: IssuerLinkState): Record<string, unknown> {
    readYourWrites.wrote(state.merchantId, state.position)
    reply.header(POSITION_HEADER, String(state.position))
    return { id: state.linkId, status: state.status, amount: state.amount, capturedAmount: state.capturedAmount, refundedAmount: state.refundedAmount }
  }

  app.post('/payment-links/:id/refunds', {
    schema: {
      tags,
      summary: 'Refund a paid link, wholly or in part (Dojo refund); once per Idempotency-Key',
      description: 'Without `amount`, refunds everything still refundable. 409 when the link holds no money (not paid, released, refunded); 422 when the amount is more than is left to refund.',
      params: LinkParamsSchema,
      headers: MoneyHeadersSchema,
      body: RefundBodySchema,
      response: { 201: RefundResultSchema, ...problems(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async (request, reply) => {
    const merchant = await merchantOf(request)
    const body = request.body ?? {}
    const result = await money.refund(merchant, request.params.id, body, request.headers['idempotency-key'])
    const link = view(reply, result.state)
    return reply.code(201).send({ refundId: result.id!, amount: { value: result.amount!, currencyCode: result.state.amount.currencyCode }, link } as any)
  })

  app.post('/payment-links/:id/captures', {
    schema: {
      tags,
      summary: 'Capture an authorised (captureMode Manual) link, wholly or in part; once per Idempotency-Key',
      description: 'Without `amount`, captures everything not yet captured; partial captures add up to the link\'s amount. 409 for an Auto link or one not authorised; 422 when the amount is more than is left.',
      params: LinkParamsSchema,
      headers: MoneyHeadersSchema,
      body: CaptureBodySchema,
      response: { 201: CaptureResultSchema, ...problems(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async (request, reply) => {
    const merchant = await merchantOf(request)
    const result = await money.capture(merchant, request.params.id, request.body ?? {}, request.headers['idempotency-key'])
    const link = view(reply, result.state)
    return reply.code(201).send({ captureId: result.id!, amount: { value: result.amount!, currencyCode: result.state.amount.currencyCode }, link } as any)
  })

  app.post('/payment-links/:id/release', {
    schema: {
      tags,
      summary: 'Release an authorisation, or reverse an Auto payment on its day (Dojo reversal)',
      description: 'Dojo\'s rules: a Manual link while authorised (within 7 days), an Auto one on the day it was paid; a captured Manual payment can only be refunded (409). Releasing a released link answers it again.',
      params: LinkParamsSchema,
      headers: ReleaseHeadersSchema,
      response: { 200: ReleaseResultSchema, ...problems(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async (request, reply) => {
    const merchant = await merchantOf(request)
    const result = await money.release(merchant, request.params.id)
    return { reversalId: result.id, link: view(reply, result.state) } as any
  })
}
