import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import QRCode from 'qrcode'
import { problemResponses as problems } from '@paylinks/service-kit'
import { LinkErrorCodes, linkError } from '../errors.js'
import type { Issuer } from '../issuer.js'
import { linkIdFor, linkView, type LinkState } from '../link.js'
import { checkLinkRequest, linkRequestError } from '../link-request.js'
import { checkCaptureMode, manualCapture } from '../money/capture-mode.js'
import type { ReadYourWrites } from '../read-your-writes.js'
import { claimIdempotencyKey } from '../repositories/idempotency.js'
import { customersByEmail, listLinks } from '../repositories/links.js'
import type { Db } from '../tables.js'
import {
  CancelBodySchema, CreateLinkBodySchema, IdempotencyHeadersSchema, LinkListSchema, LinkParamsSchema, LinkSchema,
  ListHeadersSchema, PositionHeadersSchema, ListQuerySchema, QrQuerySchema, TimelineSchema, type CreateLinkBody
} from '../schemas.js'

export interface LinkRoutesOptions {
  db: Db
  issuer: Issuer
  readYourWrites: ReadYourWrites
  emailAvailable: boolean
  /** link-issuer's public URL: links' short URLs are under it. */
  publicUrl: string
  /** Resolves once the store has recorded a position a client sends (a write on another replica). */
  reach: (position: number) => Promise<void>
  /** Resolves once the store has recorded every event JetStream has acknowledged so far. */
  reachHead: () => Promise<void>
}

/** The position a client sends back (from any replica) so a list includes what it saw written. */
export const POSITION_HEADER = 'paylinks-position'
const STALE_HEADER = 'paylinks-stale'

/** Canonical JSON (sorted keys): the same body hashes the same however its keys are ordered. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}
const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** The payment links of the partner API (registered inside its guard: API key, rate limit, merchant). */
export default async function linkRoutes (fastify: FastifyInstance, options: LinkRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, issuer, readYourWrites } = options

  /**
   * The link if the caller may see it; another merchant's link is as unknown as a missing one.
   * It includes the caller's writes on this replica (the issuer's store waits for them) and, from
   * any replica, the write whose `Paylinks-Position` the caller sends.
   */
  async function visibleLink (request: FastifyRequest, linkId: string): Promise<LinkState> {
    const sent = await reached(request)
    let state = await issuer.load(linkId)
    if (!sent && (state === undefined || state.status === 'requested')) {
      // Another replica may have answered this link's create a moment ago, before the store
      // recorded it: catch up with everything JetStream has acknowledged, then read again. Only
      // a missing or still-requested link pays for this (one stream-info request).
      await options.reachHead()
      state = await issuer.load(linkId)
    }
    const principal = request.principal!
    if (state === undefined || (principal.scope === 'merchant' && state.merchantId !== principal.merchantId)) {
      throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
    }
    return state
  }

  /** Waits for the position the client sent, if any; whether one was sent. */
  async function reached (request: FastifyRequest): Promise<boolean> {
    const position = (request.headers as { [POSITION_HEADER]?: number })[POSITION_HEADER]
    if (position !== undefined) await options.reach(position)
    return position !== undefined
  }

  /** A write is answered: remember its position for this merchant's lists, and tell the client. */
  function wrote (reply: FastifyReply, state: LinkState): void {
    readYourWrites.wrote(state.merchantId, state.position)
    reply.header(POSITION_HEADER, String(state.position))
  }

  app.post('/payment-links', {
    bodyLimit: 64 * 1024,
    schema: {
      operationId: 'createPaymentLink',
      tags: ['payment links'],
      summary: 'Create a payment link (Dojo payment intent); exactly once per reference',
      description: 'Answers within a bounded wait (`ISSUE_WAIT_MS`, default 5 s): **201** with the issued link, or **202** with the link still `requested` ' +
        'when another request or instance is issuing it right now (a retry with the same `Idempotency-Key` while the first is in flight, or after an ' +
        'instance was lost): poll `Location` (GET) after `Retry-After` seconds, or retry the POST with the same key.',
      headers: IdempotencyHeadersSchema,
      body: CreateLinkBodySchema,
      response: {
        201: LinkSchema,
        202: { ...LinkSchema, description: 'Being issued: the link is `requested`; GET `Location` after `Retry-After` seconds (or retry with the same Idempotency-Key).' },
        ...problems(400, 403, 409, 413, 415, 422, 502, 503)
      }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    const body: CreateLinkBody = request.body
    const sendEmail = body.sendEmail ?? false
    const problem = checkLinkRequest({ ...body, sendEmail }, { emailAvailable: options.emailAvailable })
    checkCaptureMode(body)
    if (problem !== undefined) throw linkRequestError(problem, '/body')
    const key = request.headers['idempotency-key']
    let causationId = `req:${request.id}`
    if (key !== undefined) {
      const claim = await claimIdempotencyKey(db, { merchantId: merchant.id, key, requestHash: sha256(canonical(body)), linkId: linkIdFor(merchant.id, body.reference) })
      if (claim === 'mismatch') {
        throw linkError(LinkErrorCodes.idempotencyMismatch, 422, 'This Idempotency-Key was used with a different body: send the same body to replay it, or use a new key.')
      }
      causationId = `idem:${sha256(`${merchant.id}\u0000${key}`).slice(0, 32)}`
    }
    const input = {
      merchant,
      reference: body.reference,
      amount: body.amount,
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.customer === undefined ? {} : { customer: body.customer }),
      ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
      ...(body.redirectUrl === undefined ? {} : { redirectUrl: body.redirectUrl }),
      ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
      sendEmail,
      source: 'api',
      ...manualCapture(body),
      causationId,
      correlationId: request.id
    } as const
    let state: LinkState
    try {
      state = await issuer.request(input)
    } catch (error) {
      if ((error as { code?: string }).code !== LinkErrorCodes.inProgress) throw error
      // Being issued by another request or instance: answer now with the link as it is (202 while
      // requested), never hold the partner past the bounded wait.
      const current = await issuer.load(linkIdFor(merchant.id, body.reference))
      if (current === undefined) throw error
      state = current
      if (state.status === 'requested') {
        wrote(reply, state)
        return reply.code(202).header('location', `/v1/payment-links/${state.linkId}`).header('retry-after', '1').send(linkView(state, options.publicUrl) as any)
      }
    }
    // Answered once JetStream acknowledged the link's events, not once the store recorded them:
    // reads of the link wait for that (visibleLink), so the answer does not.
    wrote(reply, state)
    if (state.status === 'failed') {
      throw linkError(LinkErrorCodes.dojoRefused, 502, state.failure?.reason ?? 'Dojo refused the payment intent.', { linkId: state.linkId })
    }
    return reply.code(201).header('location', `/v1/payment-links/${state.linkId}`).send(linkView(state, options.publicUrl) as any)
  })

  app.get('/payment-links/:id', {
    schema: { operationId: 'getPaymentLink', tags: ['payment links'], summary: 'One payment link, from its events', params: LinkParamsSchema, headers: PositionHeadersSchema, response: { 200: LinkSchema, ...problems(400, 404, 503) } }
  }, async (request) => linkView(await visibleLink(request, request.params.id), options.publicUrl) as any)

  app.get('/payment-links', {
    schema: {
      operationId: 'listPaymentLinks',
      tags: ['payment links'],
      summary: 'List payment links, newest first (cursor pagination); includes your own writes',
      querystring: ListQuerySchema,
      headers: ListHeadersSchema,
      response: { 200: LinkListSchema, ...problems(400) }
    }
  }, async (request, reply) => {
    const principal = request.principal!
    const merchantId = principal.scope === 'merchant' ? principal.merchantId! : undefined
    const consistency = await readYourWrites.reach(merchantId, request.headers[POSITION_HEADER])
    if (consistency !== undefined) {
      reply.header(POSITION_HEADER, String(consistency.position))
      if (!consistency.fresh) reply.header(STALE_HEADER, 'true')
    }
    const { customerEmail, ...filter } = request.query
    // Only the address's hash is compared (pii_keys' lookup): the read model holds no address.
    const customerIds = customerEmail === undefined ? undefined : await customersByEmail(db, merchantId, customerEmail)
    const page = await listLinks(db, { ...filter, merchantId, ...(customerIds === undefined ? {} : { customerIds }) })
    return {
      data: page.rows.map((r) => ({
        id: r.link_id,
        reference: r.reference,
        status: r.status,
        url: r.url,
        paymentIntentId: r.payment_intent_id,
        amount: { value: Number(r.amount_value), currencyCode: r.currency_code },
        source: r.source,
        orderId: r.order_id,
        expiresAt: r.expires_at.toISOString(),
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString()
      })),
      nextCursor: page.nextCursor
    }
  })

  app.post('/payment-links/:id/cancel', {
    schema: {
      operationId: 'cancelPaymentLink',
      tags: ['payment links'],
      summary: 'Cancel an issued, unpaid link (and its intent at Dojo)',
      description: 'The body is optional: send none (with or without a JSON content type), or `{ "reason": "…" }`. Canceling a canceled link answers it again.',
      params: LinkParamsSchema,
      headers: PositionHeadersSchema,
      body: CancelBodySchema,
      response: { 200: LinkSchema, ...problems(400, 403, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    await reached(request)
    const state = await issuer.cancel(merchant, request.params.id, request.body?.reason)
    wrote(reply, state)
    return linkView(state, options.publicUrl) as any
  })

  app.post('/payment-links/:id/email', {
    schema: {
      operationId: 'emailPaymentLink',
      tags: ['payment links'],
      summary: 'E-mail the link to its customer now, or again',
      description: 'Sends the link e-mail (the one a create with `sendEmail` sends) to the customer\'s address and records `payment-link.sent`. ' +
        'The first e-mail of a link is sent at most once, whoever asks; a later request sends it again. 409 when the link can no longer be paid ' +
        '(paid, canceled, expired, not issued) or has no customer e-mail. No body.',
      params: LinkParamsSchema,
      headers: PositionHeadersSchema,
      response: { 202: LinkSchema, ...problems(400, 403, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    await reached(request)
    const state = await issuer.email(merchant, request.params.id)
    wrote(reply, state)
    return reply.code(202).send(linkView(state, options.publicUrl) as any)
  })

  app.get('/payment-links/:id/events', {
    schema: { operationId: 'listPaymentLinkEvents', tags: ['payment links'], summary: 'The link\'s timeline: its events in order', params: LinkParamsSchema, headers: PositionHeadersSchema, response: { 200: TimelineSchema, ...problems(400, 404, 503) } }
  }, async (request) => {
    const state = await visibleLink(request, request.params.id)
    return { data: state.events.map((e) => ({ id: e.id, type: e.type, position: e.position, occurredAt: e.occurredAt, data: e.data })) }
  })

  app.get('/payment-links/:id/qr', {
    schema: {
      operationId: 'getPaymentLinkQrCode',
      tags: ['payment links'],
      summary: 'A QR code of the link (PNG or SVG)',
      params: LinkParamsSchema,
      headers: PositionHeadersSchema,
      querystring: QrQuerySchema,
      response: { 200: Type.Any({ description: 'image/png or image/svg+xml' }), ...problems(400, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const state = await visibleLink(request, request.params.id)
    if (state.url === undefined) throw linkError(LinkErrorCodes.notIssued, 409, `Link ${state.linkId} is ${state.status}: it has no URL to encode.`, { linkId: state.linkId })
    const { format, size } = request.query
    if (format === 'svg') return reply.type('image/svg+xml').send(await QRCode.toString(state.url, { type: 'svg', width: size, margin: 2 }))
    return reply.type('image/png').send(await QRCode.toBuffer(state.url, { type: 'png', width: size, margin: 2 }))
  })
}
