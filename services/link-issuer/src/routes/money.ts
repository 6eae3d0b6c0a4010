import type { FastifyInstance, FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { problemResponses as problems } from '@paylinks/service-kit'
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
  readYourWrites: ReadYourWrites
}

const tags = ['payment links']

/** Refunds, captures and releases of a link (registered inside the partner API's guard): merchant API keys only. */
export default async function moneyRoutes (fastify: FastifyInstance, options: MoneyRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { money, readYourWrites } = options

  function view (reply: FastifyReply, state: IssuerLinkState): Record<string, unknown> {
    readYourWrites.wrote(state.merchantId, state.position)
    reply.header(POSITION_HEADER, String(state.position))
    return { id: state.linkId, status: state.status, amount: state.amount, capturedAmount: state.capturedAmount, refundedAmount: state.refundedAmount }
  }

  app.post('/payment-links/:id/refunds', {
    schema: {
      operationId: 'refundPaymentLink',
      tags,
      summary: 'Refund a paid link, wholly or in part (Dojo refund); once per Idempotency-Key',
      description: 'Without `amount`, refunds everything still refundable. 409 when the link holds no money (not paid, released, refunded); 422 when the amount is more than is left to refund.',
      params: LinkParamsSchema,
      headers: MoneyHeadersSchema,
      body: RefundBodySchema,
      response: { 201: RefundResultSchema, ...problems(400, 403, 404, 409, 422, 503) }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    const body = request.body ?? {}
    const result = await money.refund(merchant, request.params.id, body, request.headers['idempotency-key'])
    const link = view(reply, result.state)
    return reply.code(201).send({ refundId: result.id!, amount: { value: result.amount!, currencyCode: result.state.amount.currencyCode }, link } as any)
  })

  app.post('/payment-links/:id/captures', {
    schema: {
      operationId: 'capturePaymentLink',
      tags,
      summary: 'Capture an authorised (captureMode Manual) link, wholly or in part; once per Idempotency-Key',
      description: 'Without `amount`, captures everything not yet captured; partial captures add up to the link\'s amount. 409 for an Auto link or one not authorised; 422 when the amount is more than is left.',
      params: LinkParamsSchema,
      headers: MoneyHeadersSchema,
      body: CaptureBodySchema,
      response: { 201: CaptureResultSchema, ...problems(400, 403, 404, 409, 422, 503) }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    const result = await money.capture(merchant, request.params.id, request.body ?? {}, request.headers['idempotency-key'])
    const link = view(reply, result.state)
    return reply.code(201).send({ captureId: result.id!, amount: { value: result.amount!, currencyCode: result.state.amount.currencyCode }, link } as any)
  })

  app.post('/payment-links/:id/release', {
    schema: {
      operationId: 'releasePaymentLink',
      tags,
      summary: 'Release an authorisation, or reverse an Auto payment on its day (Dojo reversal)',
      description: 'Dojo\'s rules: a Manual link while authorised (within 7 days), an Auto one on the day it was paid; a captured Manual payment can only be refunded (409). Releasing a released link answers it again.',
      params: LinkParamsSchema,
      headers: ReleaseHeadersSchema,
      response: { 200: ReleaseResultSchema, ...problems(400, 403, 404, 409, 422, 503) }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    const result = await money.release(merchant, request.params.id)
    return { reversalId: result.id, link: view(reply, result.state) } as any
  })
}
