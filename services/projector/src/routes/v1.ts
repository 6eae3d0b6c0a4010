import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Kysely } from 'kysely'
import type { ApiKeyAuthenticator } from '@paylinks/merchants'
import { problemResponses, ServiceError } from '@paylinks/service-kit'
import { apiKeyAuth, merchantScope } from '../auth.js'
import type { ProjectorTables } from '../tables.js'
import { toCsv } from './csv.js'
import { conversion, dailyFigures, dashboardData, getPayment, listPayments, timeline } from './queries.js'
import { ConversionSchema, DailyFigureSchema, DashboardSchema, PaymentPageSchema, PaymentSchema, PaymentsQuerySchema, RangeQuerySchema, TimelineEntrySchema } from './schemas.js'

const errors = problemResponses(400, 401, 403, 404, 429)
const security = [{ apiKey: [] }]

function wantsCsv (request: FastifyRequest, format: string | undefined): boolean {
  return format === 'csv' || (format === undefined && /\btext\/csv\b/.test(request.headers.accept ?? ''))
}

/** Send rows as CSV (see `toCsv`: amounts flattened, formula-like cells escaped). */
function sendCsv (reply: FastifyReply, name: string, rows: Array<Record<string, unknown>>): FastifyReply {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(toCsv(rows))
}

/** The analyst and partner query API: payments, timelines, daily figures, conversion. */
export default async function v1 (app: FastifyInstance, options: { db: Kysely<ProjectorTables>, authenticator: ApiKeyAuthenticator, lag: () => Promise<unknown[]> }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  await api.register(apiKeyAuth, { authenticator: options.authenticator })
  const db = options.db

  api.get('/payments', {
    schema: { operationId: 'listPayments', tags: ['query'], summary: 'Payments, newest first, with filters and cursor pagination (JSON or CSV)', security, querystring: PaymentsQuerySchema, response: { 200: PaymentPageSchema, ...errors } }
  }, async (request, reply) => {
    const { format, merchantId, ...filter } = request.query
    const page = await listPayments(db, { ...filter, merchantId: merchantScope(request, merchantId) })
    if (wantsCsv(request, format)) return sendCsv(reply.header('x-next-cursor', page.nextCursor ?? ''), 'payments', page.data)
    return page
  })

  api.get('/payments/:linkId', {
    schema: { operationId: 'getPayment', tags: ['query'], summary: 'One payment link\'s current state', security, params: Type.Object({ linkId: Type.String({ maxLength: 80 }) }), response: { 200: PaymentSchema, ...errors } }
  }, async (request) => {
    const payment = await getPayment(db, request.params.linkId, merchantScope(request, undefined))
    if (payment === undefined) throw new ServiceError('QUERY_NOT_FOUND', 404, `No payment link ${request.params.linkId} for this key.`)
    return payment
  })

  api.get('/payments/:linkId/timeline', {
    schema: { operationId: 'getPaymentTimeline', tags: ['query'], summary: 'Every recorded step of one payment link', security, params: Type.Object({ linkId: Type.String({ maxLength: 80 }) }), response: { 200: Type.Object({ data: Type.Array(TimelineEntrySchema) }), ...errors } }
  }, async (request) => {
    if (await getPayment(db, request.params.linkId, merchantScope(request, undefined)) === undefined) {
      throw new ServiceError('QUERY_NOT_FOUND', 404, `No payment link ${request.params.linkId} for this key.`)
    }
    return { data: await timeline(db, request.params.linkId) as any }
  })

  api.get('/figures/daily', {
    schema: { operationId: 'getDailyFigures', tags: ['query'], summary: 'Daily figures per currency (JSON or CSV)', security, querystring: RangeQuerySchema, response: { 200: Type.Object({ data: Type.Array(DailyFigureSchema) }), ...errors } }
  }, async (request, reply) => {
    const { format, merchantId, ...range } = request.query
    const data = await dailyFigures(db, { ...range, merchantId: merchantScope(request, merchantId) })
    if (wantsCsv(request, format)) return sendCsv(reply, 'daily-figures', data)
    return { data: data as any }
  })

  api.get('/figures/conversion', {
    schema: { operationId: 'getConversion', tags: ['query'], summary: 'Conversion of links issued in a range: share paid, time to pay, funnel (JSON or CSV)', security, querystring: RangeQuerySchema, response: { 200: ConversionSchema, ...errors } }
  }, async (request, reply) => {
    const { format, merchantId, ...range } = request.query
    const data = await conversion(db, { ...range, merchantId: merchantScope(request, merchantId) })
    if (wantsCsv(request, format)) return sendCsv(reply, 'conversion', [{ ...data, timeToPaySeconds: undefined, funnel: undefined, medianSecondsToPay: (data.timeToPaySeconds as any).median, p90SecondsToPay: (data.timeToPaySeconds as any).p90 }])
    return data as any
  })

  api.get('/dashboard', {
    schema: {
      operationId: 'getDashboard',
      tags: ['dashboard'],
      summary: 'Everything the dashboard shows: totals, daily series, funnel, latest links, projection lag',
      security,
      querystring: Type.Object({ days: Type.Integer({ minimum: 1, maximum: 92, default: 14 }), merchantId: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 200: DashboardSchema, ...errors }
    }
  }, async (request) => {
    return await dashboardData(db, { days: request.query.days, merchantId: merchantScope(request, request.query.merchantId), lag: options.lag })
  })
}
