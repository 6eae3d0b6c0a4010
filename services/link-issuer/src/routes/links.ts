import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'
import QRCode from 'qrcode'
import { authenticateApiKey, type ApiKeyPrincipal, type Merchant } from '@paylinks/merchants'
import { ProblemSchema, sendProblem } from '@paylinks/service-kit'
import { LinkErrorCodes, linkError } from '../errors.js'
import type { Issuer } from '../issuer.js'
import type { MerchantDirectory } from '../dojo.js'
import { linkIdFor, linkView, type LinkState } from '../link.js'
import { merchantDb, type Db } from '../tables.js'
import {
  CancelBodySchema, CreateLinkBodySchema, IdempotencyHeadersSchema, LinkListSchema, LinkParamsSchema, LinkSchema,
  ListQuerySchema, QrQuerySchema, TimelineSchema, type CreateLinkBody
} from '../schemas.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiKeyPrincipal
  }
}

export interface LinkRoutesOptions {
  db: Db
  issuer: Issuer
  merchants: MerchantDirectory
  emailAvailable: boolean
  rateLimit: { max: number, timeWindow: number }
  /** How long a successful key authentication is reused (0: never). A revoked key stops working within it. */
  apiKeyCacheMs: number
}

const API_KEY_CACHE_ENTRIES = 10_000

const problems = (...statuses: number[]): Record<number, typeof ProblemSchema> => Object.fromEntries(statuses.map((s) => [s, ProblemSchema]))

/** Canonical JSON (sorted keys): the same body hashes the same however its keys are ordered. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}
const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')

const TRANSIENT = new Set<string>([LinkErrorCodes.dojoUnavailable, LinkErrorCodes.inProgress, LinkErrorCodes.contention])

/** The partner API under /v1: Bearer API keys, rate-limited per key, merchant-scoped. */
export default async function linkRoutes (fastify: FastifyInstance, options: LinkRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, issuer, merchants } = options

  // Successful authentications, by the SHA-256 of the presented key (never the key itself), for
  // apiKeyCacheMs: most requests then cost no query. Failures are not kept, so a new key works at
  // once; a revoked key keeps working on an instance that had just seen it for at most that long.
  const authenticated = new Map<string, { principal: ApiKeyPrincipal, until: number }>()
  async function authenticate (presented: string): Promise<ApiKeyPrincipal | undefined> {
    if (options.apiKeyCacheMs <= 0) return await authenticateApiKey(merchantDb(db), presented)
    const id = sha256(presented)
    const hit = authenticated.get(id)
    if (hit !== undefined && hit.until > Date.now()) return hit.principal
    const principal = await authenticateApiKey(merchantDb(db), presented)
    authenticated.delete(id)
    if (principal === undefined) return undefined
    if (authenticated.size >= API_KEY_CACHE_ENTRIES) {
      const now = Date.now()
      for (const [k, v] of authenticated) if (v.until <= now) authenticated.delete(k)
      // Still full of live entries: drop the oldest (a Map iterates in insertion order).
      if (authenticated.size >= API_KEY_CACHE_ENTRIES) authenticated.delete(authenticated.keys().next().value!)
    }
    authenticated.set(id, { principal, until: Date.now() + options.apiKeyCacheMs })
    return principal
  }

  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
    const principal = match === null ? undefined : await authenticate(match[1]!)
    if (principal === undefined) {
      reply.header('www-authenticate', 'Bearer realm="paylinks"')
      throw linkError(LinkErrorCodes.unauthorized, 401, header === undefined
        ? 'Send your API key as `Authorization: Bearer <key>`.'
        : 'The API key is malformed, unknown or revoked.')
    }
    request.principal = principal
  })

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
      throw linkError(LinkErrorCodes.forbidden, 403, 'This needs a merchant API key; analyst keys only read.')
    }
    const merchant = await merchants.get(principal.merchantId)
    if (merchant === undefined) throw linkError(LinkErrorCodes.forbidden, 403, 'The merchant of this API key no longer exists.')
    return merchant
  }

  /** The link if the caller may see it; another merchant's link is as unknown as a missing one. */
  async function visibleLink (request: FastifyRequest, linkId: string): Promise<LinkState> {
    const state = await issuer.load(linkId)
    const principal = request.principal!
    if (state === undefined || (principal.scope === 'merchant' && state.merchantId !== principal.merchantId)) {
      throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
    }
    return state
  }

  function transientProblem (reply: FastifyReply, error: unknown): FastifyReply | undefined {
    const e = error as { code?: string, message?: string, extra?: Record<string, unknown> }
    if (e.code === undefined || !TRANSIENT.has(e.code)) return undefined
    reply.header('retry-after', '2')
    return sendProblem(reply, 503, { code: e.code, detail: e.message ?? 'Try again shortly.', ...e.extra })
  }

  app.post('/payment-links', {
    bodyLimit: 64 * 1024,
    schema: {
      tags: ['payment links'],
      summary: 'Create a payment link (Dojo payment intent); exactly once per reference',
      headers: IdempotencyHeadersSchema,
      body: CreateLinkBodySchema,
      response: { 201: LinkSchema, ...problems(400, 401, 403, 409, 413, 415, 422, 429, 502, 503) }
    }
  }, async (request, reply) => {
    const merchant = await merchantOf(request)
    const body: CreateLinkBody = request.body
    const sendEmail = body.sendEmail ?? false
    if (body.expiresAt !== undefined) {
      const at = Date.parse(body.expiresAt)
      if (at <= Date.now() + 60_000 || at > Date.now() + 365 * 86_400_000) {
        throw linkError(LinkErrorCodes.invalid, 400, '/body/expiresAt must be between one minute and 365 days from now.', { errors: [{ path: '/body/expiresAt', message: 'must be in the future, within 365 days' }] })
      }
    }
    if (sendEmail && body.customer?.email === undefined) {
      throw linkError(LinkErrorCodes.invalid, 400, '/body/customer/email is required when sendEmail is true.', { errors: [{ path: '/body/customer/email', message: 'is required when sendEmail is true' }] })
    }
    if (sendEmail && !options.emailAvailable) {
      throw linkError(LinkErrorCodes.emailUnavailable, 422, 'This service sends no e-mail (no SMTP configured): omit sendEmail and deliver the link yourself.')
    }
    const key = request.headers['idempotency-key']
    let causationId = `req:${request.id}`
    if (key !== undefined) {
      const requestHash = sha256(canonical(body))
      const inserted = await db.insertInto('li_idempotency_keys')
        .values({ merchant_id: merchant.id, key, request_hash: requestHash, link_id: linkIdFor(merchant.id, body.reference), created_at: undefined })
        .onConflict((oc) => oc.columns(['merchant_id', 'key']).doNothing())
        .returning('request_hash').executeTakeFirst()
      if (inserted === undefined) {
        const row = await db.selectFrom('li_idempotency_keys').select('request_hash').where('merchant_id', '=', merchant.id).where('key', '=', key).executeTakeFirstOrThrow()
        if (row.request_hash !== requestHash) {
          throw linkError(LinkErrorCodes.idempotencyMismatch, 422, 'This Idempotency-Key was used with a different body: send the same body to replay it, or use a new key.')
        }
      }
      causationId = `idem:${sha256(`${merchant.id}\u0000${key}`).slice(0, 32)}`
    }
    let state: LinkState
    try {
      state = await issuer.request({
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
        causationId,
        correlationId: request.id
      })
    } catch (error) {
      const sent = transientProblem(reply, error)
      if (sent !== undefined) return sent
      throw error
    }
    await issuer.settle(state)
    if (state.status === 'failed') {
      return sendProblem(reply, 502, { code: LinkErrorCodes.dojoRefused, detail: state.failure?.reason ?? 'Dojo refused the payment intent.', ...{ linkId: state.linkId } })
    }
    return reply.code(201).header('location', `/v1/payment-links/${state.linkId}`).send(linkView(state) as any)
  })

  app.get('/payment-links/:id', {
    schema: { tags: ['payment links'], summary: 'One payment link, from its events', params: LinkParamsSchema, response: { 200: LinkSchema, ...problems(400, 401, 404, 429) } }
  }, async (request) => linkView(await visibleLink(request, request.params.id)) as any)

  app.get('/payment-links', {
    schema: { tags: ['payment links'], summary: 'List payment links, newest first (cursor pagination)', querystring: ListQuerySchema, response: { 200: LinkListSchema, ...problems(400, 401, 429) } }
  }, async (request) => {
    const q = request.query
    const principal = request.principal!
    let query = db.selectFrom('li_links').selectAll()
    if (principal.scope === 'merchant') query = query.where('merchant_id', '=', principal.merchantId!)
    if (q.status !== undefined) query = query.where('status', '=', q.status)
    if (q.reference !== undefined) query = query.where('reference', '=', q.reference)
    if (q.createdFrom !== undefined) query = query.where('created_at', '>=', new Date(q.createdFrom))
    if (q.createdTo !== undefined) query = query.where('created_at', '<', new Date(q.createdTo))
    if (q.cursor !== undefined) {
      let after: [string, string]
      try {
        after = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8'))
        if (!Array.isArray(after) || typeof after[0] !== 'string' || typeof after[1] !== 'string' || Number.isNaN(Date.parse(after[0]))) throw new Error('shape')
      } catch {
        throw linkError(LinkErrorCodes.invalid, 400, '/querystring/cursor is not a cursor from this API: pass nextCursor from the previous page.')
      }
      query = query.where(sql<boolean>`(created_at, link_id) < (${new Date(after[0])}::timestamptz, ${after[1]})`)
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('link_id', 'desc').limit(q.limit + 1).execute()
    const page = rows.slice(0, q.limit)
    const last = page.at(-1)
    return {
      data: page.map((r) => ({
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
      nextCursor: rows.length > q.limit && last !== undefined ? Buffer.from(JSON.stringify([last.created_at.toISOString(), last.link_id])).toString('base64url') : null
    }
  })

  app.post('/payment-links/:id/cancel', {
    schema: { tags: ['payment links'], summary: 'Cancel an issued, unpaid link (and its intent at Dojo)', params: LinkParamsSchema, body: CancelBodySchema, response: { 200: LinkSchema, ...problems(400, 401, 403, 404, 409, 429, 503) } }
  }, async (request, reply) => {
    const merchant = await merchantOf(request)
    let state: LinkState
    try {
      state = await issuer.cancel(merchant, request.params.id, request.body?.reason)
    } catch (error) {
      const sent = transientProblem(reply, error)
      if (sent !== undefined) return sent
      throw error
    }
    await issuer.settle(state)
    return linkView(state) as any
  })

  app.get('/payment-links/:id/events', {
    schema: { tags: ['payment links'], summary: 'The link\'s timeline: its events in order', params: LinkParamsSchema, response: { 200: TimelineSchema, ...problems(400, 401, 404, 429) } }
  }, async (request) => {
    const state = await visibleLink(request, request.params.id)
    return { data: state.events.map((e) => ({ id: e.id, type: e.type, position: e.position, occurredAt: e.occurredAt, data: e.data })) }
  })

  app.get('/payment-links/:id/qr', {
    schema: {
      tags: ['payment links'],
      summary: 'A QR code of the link (PNG or SVG)',
      params: LinkParamsSchema,
      querystring: QrQuerySchema,
      response: { 200: Type.Any({ description: 'image/png or image/svg+xml' }), ...problems(400, 401, 404, 409, 429) }
    }
  }, async (request, reply) => {
    const state = await visibleLink(request, request.params.id)
    if (state.url === undefined) throw linkError(LinkErrorCodes.notIssued, 409, `Link ${state.linkId} is ${state.status}: it has no URL to encode.`, { linkId: state.linkId })
    const { format, size } = request.query
    if (format === 'svg') return reply.type('image/svg+xml').send(await QRCode.toString(state.url, { type: 'svg', width: size, margin: 2 }))
    return reply.type('image/png').send(await QRCode.toBuffer(state.url, { type: 'png', width: size, margin: 2 }))
  })
}
