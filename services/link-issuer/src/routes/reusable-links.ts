import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import { placesTaken, type ReusableLinkState } from '@paylinks/contracts'
import { decodeCursor, encodeCursor, problemResponses as problems } from '@paylinks/service-kit'
import { LinkErrorCodes, linkError } from '../errors.js'
import { reusableLinkIdFor } from '../reusable/decisions.js'
import type { ReusableLinks } from '../reusable/reusable-links.js'
import {
  CancelBodySchema, ChangeReusableLinkBodySchema, CreateReusableLinkBodySchema, IdempotencyHeadersSchema, ReusableLinkListSchema,
  ReusableLinkParamsSchema, ReusableLinkSchema, ReusableListQuerySchema
} from '../schemas.js'
import type { Db } from '../tables.js'

export interface ReusableLinkRoutesOptions {
  db: Db
  reusable: ReusableLinks
  /** link-issuer's public URL: the reusable links' pages are under it. */
  publicUrl: string
}

/** The one URL of a reusable link, for every payer. */
export function reusableUrlOf (publicUrl: string, reusableLinkId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/r/${reusableLinkId.slice('rl_'.length)}`
}

/** What partners see of a reusable link. */
export function reusableLinkView (state: ReusableLinkState, publicUrl: string): Record<string, unknown> {
  const taken = placesTaken(state)
  return {
    id: state.reusableLinkId,
    reference: state.reference,
    url: reusableUrlOf(publicUrl, state.reusableLinkId),
    amount: state.amount,
    ...(state.description === undefined ? {} : { description: state.description }),
    ...(state.redirectUrl === undefined ? {} : { redirectUrl: state.redirectUrl }),
    maxPayments: state.maxPayments ?? null,
    active: state.active,
    deactivatedAt: state.deactivatedAt ?? null,
    payers: { admitted: state.admitted, held: taken - state.completed, completed: state.completed, released: state.released },
    remaining: state.maxPayments === undefined ? null : Math.max(0, state.maxPayments - taken),
    children: state.children.slice(-100).reverse(),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** The reusable links of the partner API (registered inside its guard: API key, rate limit, merchant). */
export default async function reusableLinkRoutes (fastify: FastifyInstance, options: ReusableLinkRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { reusable, publicUrl } = options

  /** The reusable link if the caller may see it; another merchant's is as unknown as a missing one. */
  async function visible (request: FastifyRequest, id: string): Promise<ReusableLinkState> {
    const state = await reusable.load(id)
    const principal = request.principal!
    if (state === undefined || (principal.scope === 'merchant' && state.merchantId !== principal.merchantId)) {
      throw linkError(LinkErrorCodes.notFound, 404, `No reusable link ${id}.`, { reusableLinkId: id })
    }
    return state
  }

  /** The caller's own reusable link, to change. */
  async function own (request: FastifyRequest, id: string): Promise<ReusableLinkState> {
    const merchant = await request.merchant()
    const state = await reusable.load(id)
    if (state === undefined || state.merchantId !== merchant.id) throw linkError(LinkErrorCodes.notFound, 404, `No reusable link ${id}.`, { reusableLinkId: id })
    return state
  }

  app.post('/reusable-links', {
    schema: {
      operationId: 'createReusableLink',
      tags: ['reusable links'],
      summary: 'Create a reusable link: one URL for many payers, each of whom gets a payment link of their own',
      description: 'Once per reference: the same `Idempotency-Key` replays the link; another request with the reference is a 409. ' +
        'With `maxPayments`, payers are admitted only while completed payments plus payers still holding a place stay below it.',
      headers: IdempotencyHeadersSchema,
      body: CreateReusableLinkBodySchema,
      response: { 201: ReusableLinkSchema, ...problems(400, 403, 409, 503) }
    }
  }, async (request, reply) => {
    const merchant = await request.merchant()
    const body = request.body
    const key = request.headers['idempotency-key']
    const state = await reusable.create({
      reusableLinkId: reusableLinkIdFor(merchant.id, body.reference),
      merchantId: merchant.id,
      reference: body.reference,
      amount: body.amount,
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.maxPayments === undefined ? {} : { maxPayments: body.maxPayments }),
      ...(body.redirectUrl === undefined ? {} : { redirectUrl: body.redirectUrl }),
      causationId: key === undefined ? `req:${request.id}` : `idem:${sha256(`${merchant.id}\u0000${key}`).slice(0, 32)}`,
      correlationId: request.id
    })
    await reusable.recorded(state)
    return reply.code(201).header('location', `/v1/reusable-links/${state.reusableLinkId}`).send(reusableLinkView(state, publicUrl) as any)
  })

  app.get('/reusable-links/:id', {
    schema: {
      operationId: 'getReusableLink',
      tags: ['reusable links'],
      summary: 'One reusable link, from its events: its counts and its payers\' links',
      params: ReusableLinkParamsSchema,
      response: { 200: ReusableLinkSchema, ...problems(400, 404) }
    }
  }, async (request) => reusableLinkView(await visible(request, request.params.id), publicUrl) as any)

  app.get('/reusable-links', {
    schema: {
      operationId: 'listReusableLinks',
      tags: ['reusable links'],
      summary: 'List reusable links, newest first (cursor pagination); a new one appears within moments',
      querystring: ReusableListQuerySchema,
      response: { 200: ReusableLinkListSchema, ...problems(400) }
    }
  }, async (request) => {
    const principal = request.principal!
    let query = options.db.selectFrom('li_reusable_links').select(['reusable_link_id', 'created_at'])
    if (principal.scope === 'merchant') query = query.where('merchant_id', '=', principal.merchantId!)
    if (request.query.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(request.query.cursor, ['date-time', 'string'])
      query = query.where(sql<boolean>`(created_at, reusable_link_id) < (${new Date(createdAt!)}::timestamptz, ${id})`)
    }
    const limit = request.query.limit
    const rows = await query.orderBy('created_at', 'desc').orderBy('reusable_link_id', 'desc').limit(limit + 1).execute()
    const page = rows.slice(0, limit)
    const states = await Promise.all(page.map(async (r) => await reusable.load(r.reusable_link_id)))
    const last = page.at(-1)
    return {
      data: states.flatMap((s) => s === undefined ? [] : [reusableLinkView(s, publicUrl)]) as any,
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.created_at.toISOString(), last.reusable_link_id]) : null
    }
  })

  app.patch('/reusable-links/:id', {
    schema: {
      operationId: 'changeReusableLink',
      tags: ['reusable links'],
      summary: 'Change the price (or the limit) of an active reusable link: payers admitted from now on pay the new price',
      params: ReusableLinkParamsSchema,
      body: ChangeReusableLinkBodySchema,
      response: { 200: ReusableLinkSchema, ...problems(400, 403, 404, 409, 503) }
    }
  }, async (request) => {
    const state = await reusable.change(await own(request, request.params.id), request.body, request.id)
    await reusable.recorded(state)
    return reusableLinkView(state, publicUrl) as any
  })

  app.post('/reusable-links/:id/deactivate', {
    schema: {
      operationId: 'deactivateReusableLink',
      tags: ['reusable links'],
      summary: 'Deactivate a reusable link: nobody else is admitted, at once (payers already admitted keep their hold)',
      description: 'The body is optional: none, or `{ "reason": "…" }`. Deactivating a deactivated link answers it again.',
      params: ReusableLinkParamsSchema,
      body: CancelBodySchema,
      response: { 200: ReusableLinkSchema, ...problems(400, 403, 404, 503) }
    }
  }, async (request) => {
    const state = await reusable.deactivate(await own(request, request.params.id), request.body?.reason, request.id)
    await reusable.recorded(state)
    return reusableLinkView(state, publicUrl) as any
  })
}
