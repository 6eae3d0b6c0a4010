import { createHash, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import { WEBHOOK_EVENT_TYPES, type WebhookEndpointState } from '@paylinks/contracts'
import type { ApiKeyAuthenticator, SecretBox } from '@paylinks/merchants'
import { decodeCursor, encodeCursor, problemResponses, ServiceError } from '@paylinks/service-kit'
import { merchantKeyAuth } from '../auth.js'
import { newEndpointId, type EndpointCommands } from '../endpoints.js'
import { DUE_CHANNEL } from '../fanout.js'
import { payloadOf, WebhookPayloadSchema } from '../payloads.js'
import type { Db } from '../tables.js'
import {
  CreatedEndpointSchema, CreateEndpointSchema, DeliveriesQuerySchema, DeliverySchema, EndpointIdParams, EndpointSchema, ReplayedSchema, ReplaySchema,
  RotatedSchema, RotateSchema, TestSentSchema, UpdateEndpointSchema, type Endpoint
} from './schemas.js'
import { Type } from '@sinclair/typebox'

export interface EndpointRoutesOptions {
  db: Db
  commands: EndpointCommands
  authenticator: ApiKeyAuthenticator
  box: SecretBox
  overlapHours: number
}

const errors = problemResponses(400, 401, 403, 404, 409, 429)
const security = [{ apiKey: [] }]
const tags = ['webhook endpoints']
const iso = (d: Date | null): string | null => d === null ? null : d.toISOString()

/**
 * The partner API for outbound webhooks (/v1/webhook-endpoints): endpoints per merchant, their
 * secrets, a test event, the delivery log and replays. Every route is scoped to the key's
 * merchant: another merchant's endpoint is a 404, and nothing about it changes.
 */
export default async function endpointRoutes (fastify: FastifyInstance, options: EndpointRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  await app.register(merchantKeyAuth, { authenticator: options.authenticator })
  const { db, commands } = options

  async function load (merchantId: string, endpointId: string): Promise<Endpoint> {
    const row = await db.selectFrom('wd_endpoints').leftJoin('wd_endpoint_health', 'wd_endpoint_health.endpoint_id', 'wd_endpoints.endpoint_id')
      .selectAll('wd_endpoints').select(['failing_since', 'last_success_at', 'last_failure_at'])
      .where('wd_endpoints.endpoint_id', '=', endpointId).where('merchant_id', '=', merchantId).where('status', '<>', 'deleted').executeTakeFirst()
    if (row === undefined) throw new ServiceError('WEBHOOK_ENDPOINT_NOT_FOUND', 404, `No webhook endpoint ${endpointId} for this key.`)
    return toEndpoint(row)
  }

  /** A command's own state, for when the fan-out has not folded it within the wait. */
  function fromState (s: WebhookEndpointState): Endpoint {
    return {
      id: s.endpointId,
      url: s.url,
      description: s.description,
      eventTypes: s.eventTypes,
      status: s.status === 'disabled' ? 'disabled' : 'enabled',
      disabled: s.disabled ?? null,
      secretVersion: s.secretVersion,
      previousSecretValidUntil: s.previousValidUntil ?? null,
      health: { failingSince: null, lastSuccessAt: null, lastFailureAt: null },
      createdAt: s.createdAt,
      updatedAt: s.updatedAt
    }
  }
  const current = async (merchantId: string, s: WebhookEndpointState): Promise<Endpoint> => await load(merchantId, s.endpointId).catch(() => fromState(s))

  app.post('/webhook-endpoints', {
    schema: {
      operationId: 'createWebhookEndpoint',
      tags,
      summary: 'Create an endpoint; the answer holds its signing secret, shown this once',
      description: 'Deliveries follow the Standard Webhooks specification: `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`). Send `Idempotency-Key` to retry a create safely.',
      security,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
      body: CreateEndpointSchema,
      response: { 201: CreatedEndpointSchema, ...errors }
    }
  }, async (request, reply) => {
    const merchantId = request.merchantId
    const input = { url: request.body.url, eventTypes: request.body.eventTypes ?? [...WEBHOOK_EVENT_TYPES], description: request.body.description }
    const key = request.headers['idempotency-key']
    let endpointId = newEndpointId()
    if (key !== undefined) {
      const hash = createHash('sha256').update(JSON.stringify(input)).digest('base64url')
      const claimed = await db.insertInto('wd_idempotency_keys').values({ merchant_id: merchantId, key, request_hash: hash, endpoint_id: endpointId })
        .onConflict((oc) => oc.columns(['merchant_id', 'key']).doNothing()).returning('endpoint_id').executeTakeFirst()
      if (claimed === undefined) {
        const prior = await db.selectFrom('wd_idempotency_keys').selectAll().where('merchant_id', '=', merchantId).where('key', '=', key).executeTakeFirstOrThrow()
        if (prior.request_hash !== hash) throw new ServiceError('IDEMPOTENCY_KEY_REUSED', 409, 'This Idempotency-Key was used with another request body.')
        const secret = await db.selectFrom('wd_endpoint_secrets').select('sealed').where('endpoint_id', '=', prior.endpoint_id).where('version', '=', 1).executeTakeFirst()
        const endpoint = await load(merchantId, prior.endpoint_id).catch(() => undefined)
        if (endpoint === undefined || secret === undefined) throw new ServiceError('IDEMPOTENCY_IN_PROGRESS', 409, 'The first request with this Idempotency-Key is still being handled: retry shortly.', { retryAfterSeconds: 1 })
        return reply.code(201).send({ ...endpoint, secret: options.box.decrypt(secret.sealed) })
      }
      endpointId = claimed.endpoint_id
    }
    try {
      const { state, secret } = await commands.create(merchantId, input, request.id, endpointId)
      return reply.code(201).send({ ...(await current(merchantId, state)), secret })
    } catch (error) {
      if (key !== undefined) await db.deleteFrom('wd_idempotency_keys').where('merchant_id', '=', merchantId).where('key', '=', key).execute()
      throw error
    }
  })

  app.get('/webhook-endpoints', {
    schema: { operationId: 'listWebhookEndpoints', tags, summary: 'This merchant\'s endpoints, oldest first', security, response: { 200: Type.Object({ data: Type.Array(EndpointSchema) }), ...errors } }
  }, async (request) => {
    const rows = await db.selectFrom('wd_endpoints').leftJoin('wd_endpoint_health', 'wd_endpoint_health.endpoint_id', 'wd_endpoints.endpoint_id')
      .selectAll('wd_endpoints').select(['failing_since', 'last_success_at', 'last_failure_at'])
      .where('merchant_id', '=', request.merchantId).where('status', '<>', 'deleted').orderBy('created_at').orderBy('wd_endpoints.endpoint_id').limit(500).execute()
    return { data: rows.map(toEndpoint) }
  })

  app.get('/webhook-endpoints/:id', {
    schema: { operationId: 'getWebhookEndpoint', tags, summary: 'One endpoint, with why it was disabled if it was', security, params: EndpointIdParams, response: { 200: EndpointSchema, ...errors } }
  }, async (request) => await load(request.merchantId, request.params.id))

  app.patch('/webhook-endpoints/:id', {
    schema: { operationId: 'updateWebhookEndpoint', tags, summary: 'Change the URL, event types or description; enable (after a disable) or disable', security, params: EndpointIdParams, body: UpdateEndpointSchema, response: { 200: EndpointSchema, ...errors } }
  }, async (request) => {
    const state = await commands.update(request.merchantId, request.params.id, request.body, request.id)
    return await current(request.merchantId, state)
  })

  app.delete('/webhook-endpoints/:id', {
    schema: { operationId: 'deleteWebhookEndpoint', tags, summary: 'Delete an endpoint: nothing more is sent to it', security, params: EndpointIdParams, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    await commands.remove(request.merchantId, request.params.id, request.id)
    return reply.code(204).send(null)
  })

  app.post('/webhook-endpoints/:id/rotate-secret', {
    schema: {
      operationId: 'rotateWebhookEndpointSecret',
      tags,
      summary: 'A new signing secret; the previous one keeps signing beside it for the overlap',
      description: 'During the overlap `webhook-signature` carries both signatures, space-separated (new first): a receiver holding either secret verifies.',
      security,
      params: EndpointIdParams,
      // Optional: no body (null, as Fastify validates a missing one) keeps the configured overlap.
      body: Type.Union([RotateSchema, Type.Null()]),
      response: { 200: RotatedSchema, ...errors }
    }
  }, async (request) => {
    const { state, secret } = await commands.rotate(request.merchantId, request.params.id, request.body?.overlapHours ?? options.overlapHours, request.id)
    return { secret, secretVersion: state.secretVersion, previousSecretValidUntil: state.previousValidUntil! }
  })

  app.post('/webhook-endpoints/:id/test', {
    schema: { operationId: 'testWebhookEndpoint', tags, summary: 'Send a `webhook_endpoint.test` event now (one attempt, logged with the deliveries)', security, params: EndpointIdParams, response: { 202: TestSentSchema, ...errors } }
  }, async (request, reply) => {
    const endpoint = await load(request.merchantId, request.params.id)
    if (endpoint.status !== 'enabled') throw new ServiceError('WEBHOOK_ENDPOINT_DISABLED', 409, 'The endpoint is disabled: enable it first (PATCH with enabled: true).')
    const id = randomUUID()
    const body = JSON.stringify(payloadOf({ id, occurredAt: new Date().toISOString() }, 'webhook_endpoint.test', { endpointId: endpoint.id, message: 'A test event from paylinks.' }))
    const row = await db.transaction().execute(async (trx) => {
      const inserted = await trx.insertInto('wd_deliveries').values({
        endpoint_id: endpoint.id,
        merchant_id: request.merchantId,
        message_id: id,
        event_type: 'webhook_endpoint.test',
        body,
        kind: 'test',
        status: 'pending',
        next_attempt_at: new Date(),
        last_status_code: null,
        last_error: null,
        recorded_at: null,
        delivered_at: null
      }).returning('delivery_id').executeTakeFirstOrThrow()
      await sql`SELECT pg_notify(${DUE_CHANNEL}, '')`.execute(trx)
      return inserted
    })
    return reply.code(202).send({ deliveryId: row.delivery_id, eventId: id })
  })

  app.get('/webhook-endpoints/:id/deliveries', {
    schema: { operationId: 'listWebhookEndpointDeliveries', tags, summary: 'The delivery log, newest first: each delivery with its attempts (status code, latency, error)', security, params: EndpointIdParams, querystring: DeliveriesQuerySchema, response: { 200: Type.Object({ data: Type.Array(DeliverySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors } }
  }, async (request) => {
    await load(request.merchantId, request.params.id)
    const q = request.query
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['date-time', 'string'])
    let query = db.selectFrom('wd_deliveries').selectAll().where('endpoint_id', '=', request.params.id)
    if (q.status !== undefined) query = query.where('status', '=', q.status)
    if (q.eventId !== undefined) query = query.where('message_id', '=', q.eventId)
    if (after !== undefined) query = query.where(sql<boolean>`(created_at, delivery_id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`)
    const rows = await query.orderBy('created_at', 'desc').orderBy('delivery_id', 'desc').limit(q.limit + 1).execute()
    const page = rows.slice(0, q.limit)
    const attempts = page.length === 0 ? [] : await db.selectFrom('wd_attempts').selectAll().where('delivery_id', 'in', page.map((r) => r.delivery_id)).orderBy('attempt').execute()
    const last = page[page.length - 1]
    return {
      data: page.map((r) => ({
        id: r.delivery_id,
        eventId: r.message_id,
        eventType: r.event_type,
        kind: r.kind,
        status: r.status,
        attempts: r.attempts,
        nextAttemptAt: iso(r.next_attempt_at),
        lastStatusCode: r.last_status_code,
        lastError: r.last_error,
        createdAt: r.created_at.toISOString(),
        deliveredAt: iso(r.delivered_at),
        log: attempts.filter((a) => a.delivery_id === r.delivery_id).map((a) => ({ attempt: a.attempt, startedAt: a.started_at.toISOString(), latencyMs: a.latency_ms, statusCode: a.status_code, error: a.error }))
      })),
      nextCursor: rows.length > q.limit && last !== undefined ? encodeCursor([last.created_at.toISOString(), last.delivery_id]) : null
    }
  })

  app.post('/webhook-endpoints/:id/replay', {
    schema: {
      operationId: 'replayWebhookEndpoint',
      tags,
      summary: 'Send again one event, or every event recorded for this endpoint since a time (same webhook-id: de-duplicate by it)',
      security,
      params: EndpointIdParams,
      body: ReplaySchema,
      response: { 202: ReplayedSchema, ...errors }
    }
  }, async (request, reply) => {
    const endpoint = await load(request.merchantId, request.params.id)
    if (endpoint.status !== 'enabled') throw new ServiceError('WEBHOOK_ENDPOINT_DISABLED', 409, 'The endpoint is disabled: enable it first (PATCH with enabled: true), then replay.')
    const body = request.body
    const filter = 'eventId' in body ? sql`message_id = ${body.eventId}` : sql`created_at >= ${body.since}::timestamptz`
    const replayed = await db.transaction().execute(async (trx) => {
      const result = await sql`
        INSERT INTO wd_deliveries (endpoint_id, merchant_id, message_id, event_type, body, kind, position, status, next_attempt_at, recorded_at)
        SELECT endpoint_id, merchant_id, message_id, event_type, body, 'replay', position, 'pending', now(), recorded_at
        FROM wd_deliveries WHERE endpoint_id = ${endpoint.id} AND kind = 'event' AND ${filter}
        ORDER BY position LIMIT 10000`.execute(trx)
      await sql`SELECT pg_notify(${DUE_CHANNEL}, '')`.execute(trx)
      return Number(result.numAffectedRows ?? 0)
    })
    if ('eventId' in body && replayed === 0) throw new ServiceError('WEBHOOK_EVENT_NOT_FOUND', 404, `Event ${body.eventId} was never due to this endpoint.`)
    return reply.code(202).send({ replayed })
  })

  app.get('/webhook-event-types', {
    schema: {
      operationId: 'listWebhookEventTypes',
      tags: ['webhook events'],
      summary: 'The event types an endpoint can receive, and the payload every delivery carries (schema version 1)',
      security,
      response: { 200: Type.Object({ data: Type.Array(Type.String()), payload: Type.Unsafe<unknown>({ description: 'JSON Schema of the payload' }) }), ...errors }
    }
  }, async () => ({ data: [...WEBHOOK_EVENT_TYPES], payload: WebhookPayloadSchema }))
}

function toEndpoint (r: any): Endpoint {
  return {
    id: r.endpoint_id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    status: r.status,
    disabled: r.disabled_reason === null ? null : { reason: r.disabled_reason, ...(r.disabled_detail === null ? {} : { detail: r.disabled_detail }), at: r.disabled_at.toISOString() },
    secretVersion: r.secret_version,
    previousSecretValidUntil: iso(r.previous_valid_until),
    health: { failingSince: iso(r.failing_since), lastSuccessAt: iso(r.last_success_at), lastFailureAt: iso(r.last_failure_at) },
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString()
  }
}
