import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemResponses, ServiceError } from '@paylinks/service-kit'
import type { ConsoleContext } from '../context.js'
import { ConsoleErrorCodes } from '../errors.js'
import { Form } from '../forms.js'
import { formatMinor } from '../money.js'
import { relay, relayed } from '../relay.js'
import { requireRole } from '../session.js'
import type { UpstreamRequest } from '../upstream.js'

const tags = ['links']
const security = [{ session: [] }]
const Anything = Type.Any()
const LinkIdParams = Type.Object({ id: Type.String({ pattern: '^lnk_[A-Za-z0-9_-]{1,100}$' }) })
const DATE = /^\d{4}-\d{2}-\d{2}$/

const ListQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 254, description: 'a reference (prefix) or a customer e-mail (exact)' })),
  status: Type.Optional(Type.String({ maxLength: 20 })),
  from: Type.Optional(Type.String({ maxLength: 10, description: 'created on or after this day (YYYY-MM-DD, UTC)' })),
  to: Type.Optional(Type.String({ maxLength: 10, description: 'created on or before this day (YYYY-MM-DD, UTC)' })),
  cursor: Type.Optional(Type.String({ maxLength: 200 }))
})
const STATUSES = ['requested', 'issued', 'failed', 'authorized', 'paid', 'captured', 'partially_refunded', 'refunded', 'released', 'canceled', 'expired']

const CreateBody = Type.Object({
  amount: Type.Optional(Type.Object({ value: Type.Optional(Type.Any()), currencyCode: Type.Optional(Type.Any()) })),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  customerEmail: Type.Optional(Type.String({ maxLength: 320 })),
  expiresAt: Type.Optional(Type.String({ maxLength: 40 })),
  sendEmail: Type.Optional(Type.Boolean()),
  reference: Type.Optional(Type.String({ maxLength: 100 }))
})
const RefundBody = Type.Object({
  amount: Type.Optional(Type.Object({ value: Type.Optional(Type.Any()), currencyCode: Type.Optional(Type.Any()) })),
  reason: Type.Optional(Type.String({ maxLength: 200 }))
})

/** Read the filters of the list and the CSV into link-issuer's query. */
function listQuery (query: { q?: string | undefined, status?: string | undefined, from?: string | undefined, to?: string | undefined }): Record<string, string | undefined> {
  const form = new Form()
  const q = query.q?.trim() ?? ''
  if (query.status !== undefined && query.status !== '' && !STATUSES.includes(query.status)) form.fail('status', `Choose a status: ${STATUSES.join(', ')}.`)
  const day = (field: string, value: string | undefined): Date | undefined => {
    if (value === undefined || value === '') return undefined
    const date = new Date(`${value}T00:00:00Z`)
    if (!DATE.test(value) || Number.isNaN(date.getTime())) { form.fail(field, 'Enter a date like 2026-12-01.'); return undefined }
    return date
  }
  const from = day('from', query.from)
  const to = day('to', query.to)
  if (from !== undefined && to !== undefined && to < from) form.fail('to', 'The end date is before the start date.')
  form.done()
  return {
    ...(q === '' ? {} : q.includes('@') ? { customerEmail: q } : { referencePrefix: q }),
    status: query.status === '' ? undefined : query.status,
    createdFrom: from?.toISOString(),
    // The whole of the last day.
    createdTo: to === undefined ? undefined : new Date(to.getTime() + 86_400_000).toISOString()
  }
}

/** An amount a person typed, as the web app sends it: integer minor units ≥ 1 and a currency. */
function readAmount (form: Form, amount: { value?: unknown, currencyCode?: unknown } | undefined, options: { optional?: boolean } = {}): { value: number, currencyCode: string } | undefined {
  if (amount === undefined && options.optional === true) return undefined
  const value = amount?.value
  const currencyCode = amount?.currencyCode
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) form.fail('amount.value', 'Enter an amount of at least 0.01.')
  if (typeof currencyCode !== 'string' || !/^[A-Z]{3}$/.test(currencyCode)) form.fail('amount.currencyCode', 'Choose a currency, like GBP.')
  return { value: value as number, currencyCode: currencyCode as string }
}

/** The console's view of one link in a list: the link-issuer's link, with what a person looks for. */
function listItem (link: any): Record<string, unknown> {
  return {
    id: link.id,
    reference: link.reference,
    status: link.status,
    amount: link.amount,
    ...(link.description === undefined ? {} : { description: link.description }),
    ...(typeof link.customer?.email === 'string' ? { customerEmail: link.customer.email } : {}),
    shortUrl: link.shortUrl,
    url: link.url,
    createdAt: link.createdAt,
    expiresAt: link.expiresAt,
    opened: link.opened
  }
}

const csvCell = (value: unknown): string => {
  const text = value === null || value === undefined ? '' : String(value)
  // A leading = + - @ would be a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\r\n']/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/** Links: viewers read, staff create, e-mail, cancel and refund; all through link-issuer. */
export default async function linkRoutes (fastify: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, upstream, merchantKeys } = ctx
  const viewer = requireRole(db, 'viewer')
  const staff = requireRole(db, 'staff')
  const issuer = async (request: FastifyRequest, call: Omit<UpstreamRequest, 'apiKey'>) =>
    await upstream.call('link-issuer', { ...call, apiKey: await merchantKeys.keyFor(request.user!.merchantId) })

  app.get('/links', {
    preHandler: viewer,
    schema: { tags, security, operationId: 'listLinks', summary: 'Find links: by reference or customer e-mail, status, dates', querystring: ListQuery, response: { 200: Anything, ...problemResponses(401, 403) } }
  }, async (request) => {
    const page = relay('link-issuer', await issuer(request, { path: '/v1/payment-links', query: { ...listQuery(request.query), cursor: request.query.cursor, limit: '20' } }))
    // The list is a summary: each link's page view (customer, short URL, opens) comes from it.
    const links = await Promise.all((page.data as Array<{ id: string }>).map(async (row) => relay('link-issuer', await issuer(request, { path: `/v1/payment-links/${row.id}` }))))
    return { data: links.map(listItem), nextCursor: page.nextCursor }
  })

  app.get('/links.csv', {
    preHandler: viewer,
    schema: { tags, security, operationId: 'exportLinks', summary: 'The links the filters find, as CSV (up to 10,000)', querystring: ListQuery, response: { 200: Type.String({ description: 'text/csv' }), ...problemResponses(401, 403) } }
  }, async (request, reply) => {
    const query = listQuery(request.query)
    const lines = ['id,reference,status,amount_minor,currency,amount,created_at,expires_at,url']
    let cursor: string | undefined
    for (let pages = 0; pages < 100; pages++) {
      const page = relay('link-issuer', await issuer(request, { path: '/v1/payment-links', query: { ...query, cursor, limit: '100' } }))
      for (const r of page.data) lines.push([r.id, r.reference, r.status, r.amount.value, r.amount.currencyCode, formatMinor(r.amount.value, r.amount.currencyCode), r.createdAt, r.expiresAt, r.url].map(csvCell).join(','))
      cursor = page.nextCursor ?? undefined
      if (cursor === undefined) break
    }
    return await reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="payment-links-${new Date().toISOString().slice(0, 10)}.csv"`).send(lines.join('\r\n') + '\r\n')
  })

  app.post('/links', {
    preHandler: staff,
    schema: { tags, security, operationId: 'createLink', summary: 'Create a link in one form', body: CreateBody, response: { 201: Anything, 202: Anything, ...problemResponses(401, 403, 409, 503) } }
  }, async (request, reply) => {
    const body = request.body
    const form = new Form()
    const amount = readAmount(form, body.amount)
    const customerEmail = body.customerEmail === undefined || body.customerEmail.trim() === '' ? undefined : form.email('customerEmail', body.customerEmail)
    if (body.sendEmail === true && customerEmail === undefined) form.fail('customerEmail', 'Enter the customer\'s e-mail address to send them the link.')
    let expiresAt: string | undefined
    if (body.expiresAt !== undefined && body.expiresAt !== '') {
      const at = new Date(body.expiresAt)
      if (Number.isNaN(at.getTime())) form.fail('expiresAt', 'Enter an expiry date and time.')
      else if (at.getTime() <= Date.now()) form.fail('expiresAt', 'Choose an expiry in the future.')
      else expiresAt = at.toISOString()
    }
    const reference = body.reference?.trim() === undefined || body.reference.trim() === '' ? `con_${randomBytes(9).toString('base64url')}` : body.reference.trim()
    if (!/^[\x21-\x7e]{1,60}$/.test(reference)) form.fail('reference', 'Use up to 60 letters, digits or punctuation, no spaces.')
    form.done()
    const response = await issuer(request, {
      method: 'POST',
      path: '/v1/payment-links',
      // A new key per form sent: a retry after a lost answer gets the same link, never two.
      idempotencyKey: randomUUID(),
      body: {
        reference,
        amount,
        ...(body.description === undefined || body.description.trim() === '' ? {} : { description: body.description.trim() }),
        ...(customerEmail === undefined ? {} : { customer: { email: customerEmail } }),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        sendEmail: body.sendEmail === true,
        metadata: { createdBy: request.user!.id }
      }
    })
    if (response.status < 300) request.log.info({ linkId: response.json?.id, by: request.user!.id }, 'link created from the console')
    return await relayed(reply, 'link-issuer', response)
  })

  app.get('/links/:id', {
    preHandler: viewer,
    schema: { tags, security, operationId: 'getLink', summary: 'One link, as link-issuer has it', params: LinkIdParams, response: { 200: Anything, ...problemResponses(401, 403, 404) } }
  }, async (request) => relay('link-issuer', await issuer(request, { path: `/v1/payment-links/${request.params.id}` })))

  app.get('/links/:id/timeline', {
    preHandler: viewer,
    schema: { tags, security, operationId: 'getLinkTimeline', summary: 'The link\'s events in order', params: LinkIdParams, response: { 200: Anything, ...problemResponses(401, 403, 404) } }
  }, async (request) => {
    const events = relay('link-issuer', await issuer(request, { path: `/v1/payment-links/${request.params.id}/events` }))
    return { data: (events.data as any[]).map((e) => ({ type: e.type, occurredAt: e.occurredAt, position: e.position, data: e.data })) }
  })

  app.get('/links/:id/qr', {
    preHandler: viewer,
    schema: { tags, security, operationId: 'getLinkQrCode', summary: 'A QR code (SVG) of the link\'s short URL', params: LinkIdParams, response: { 200: Type.String({ description: 'image/svg+xml' }), ...problemResponses(401, 403, 404, 409) } }
  }, async (request, reply) => {
    const response = await issuer(request, { path: `/v1/payment-links/${request.params.id}/qr`, query: { format: 'svg' }, accept: 'image/svg+xml' })
    if (response.status >= 400) relay('link-issuer', response)
    return await reply.type('image/svg+xml').header('cache-control', 'private, max-age=300').send(response.text)
  })

  app.post('/links/:id/email', {
    preHandler: staff,
    schema: { tags, security, operationId: 'emailLink', summary: 'E-mail the link to its customer, or again', params: LinkIdParams, body: Type.Union([Type.Object({ email: Type.Optional(Type.String({ maxLength: 320 })) }), Type.Null()]), response: { 202: Anything, ...problemResponses(401, 403, 404, 409, 503) } }
  }, async (request, reply) => {
    if (request.body?.email !== undefined && request.body.email !== '') {
      throw new ServiceError(ConsoleErrorCodes.invalid, 400, 'A link is e-mailed to the customer it was made for.', { extra: { errors: [{ path: '/body/email', field: 'email', message: 'The link goes to the customer e-mail it was created with; create a new link for another address.' }] } })
    }
    return await relayed(reply, 'link-issuer', await issuer(request, { method: 'POST', path: `/v1/payment-links/${request.params.id}/email` }))
  })

  app.post('/links/:id/cancel', {
    preHandler: staff,
    schema: { tags, security, operationId: 'cancelLink', summary: 'Cancel an unpaid link', params: LinkIdParams, response: { 200: Anything, ...problemResponses(401, 403, 404, 409, 503) } }
  }, async (request, reply) => await relayed(reply, 'link-issuer', await issuer(request, { method: 'POST', path: `/v1/payment-links/${request.params.id}/cancel`, body: { reason: `canceled in the console by ${request.user!.id}` } })))

  app.post('/links/:id/refunds', {
    preHandler: staff,
    schema: { tags, security, operationId: 'refundLink', summary: 'Refund a paid link, wholly or in part', params: LinkIdParams, body: RefundBody, response: { 201: Anything, ...problemResponses(401, 403, 404, 409, 422, 503) } }
  }, async (request, reply) => {
    const form = new Form()
    const amount = readAmount(form, request.body.amount, { optional: true })
    form.done()
    return await relayed(reply, 'link-issuer', await issuer(request, {
      method: 'POST',
      path: `/v1/payment-links/${request.params.id}/refunds`,
      idempotencyKey: randomUUID(),
      // link-issuer takes the refund in the link's currency, as minor units.
      body: { ...(amount === undefined ? {} : { amount: amount.value }), ...(request.body.reason === undefined || request.body.reason === '' ? {} : { reason: request.body.reason }) }
    }))
  })
}
