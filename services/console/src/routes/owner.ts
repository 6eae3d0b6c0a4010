import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Kysely } from 'kysely'
import { createApiKey, listApiKeys, revokeApiKey, type MerchantTables } from '@paylinks/merchants'
import { problemResponses, ServiceError } from '@paylinks/service-kit'
import type { ConsoleContext } from '../context.js'
import { ConsoleErrorCodes } from '../errors.js'
import { Form } from '../forms.js'
import { relay, relayed } from '../relay.js'
import { requireRole } from '../session.js'
import type { UpstreamRequest } from '../upstream.js'

const security = [{ session: [] }]
const Anything = Type.Any()
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }) })
const LabelBody = Type.Object({ label: Type.Optional(Type.String({ maxLength: 200 })) })
const ApiKeySchema = Type.Object({ id: Type.String(), label: Type.String(), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]), revokedAt: Type.Union([Type.String(), Type.Null()]) }, { title: 'ApiKey' })

/** The dashboard (viewers), and the owner's API keys and partner webhook endpoints. */
export default async function ownerRoutes (fastify: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, upstream, merchantKeys } = ctx
  const merchants = db as unknown as Kysely<MerchantTables>
  const owner = requireRole(db, 'owner')
  const call = async (service: 'projector' | 'webhook-dispatch', request: FastifyRequest, r: Omit<UpstreamRequest, 'apiKey'>) =>
    await upstream.call(service, { ...r, apiKey: await merchantKeys.keyFor(request.user!.merchantId) })

  app.get('/dashboard', {
    preHandler: requireRole(db, 'viewer'),
    schema: { tags: ['dashboard'], security, operationId: 'getDashboard', summary: 'Today\'s figures and charts for the signed-in merchant (the projector\'s /v1/dashboard)', querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366 })) }), response: { 200: Anything, ...problemResponses(401, 403) } }
  }, async (request) => relay('projector', await call('projector', request, { path: '/v1/dashboard', query: { days: request.query.days?.toString() } })))

  // API keys: the same functions as `pnpm admin key`, scoped to the signed-in merchant; the
  // console's own key (label `console`) is not shown and cannot be revoked here.
  const keyView = (k: { keyId: string, label: string, createdAt: string, lastUsedAt: string | null, revokedAt: string | null }) =>
    ({ id: k.keyId, label: k.label, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt })
  const ownKey = async (request: FastifyRequest, id: string) => {
    const merchantId = request.user!.merchantId
    const consoleKey = await merchantKeys.consoleKeyId(merchantId)
    const key = id === consoleKey ? undefined : (await listApiKeys(merchants, merchantId)).find((k) => k.keyId === id)
    if (key === undefined) throw new ServiceError(ConsoleErrorCodes.notFound, 404, 'No such API key.')
    return key
  }
  const readLabel = (label: string | undefined): string => {
    const form = new Form()
    const value = form.required('label', label, 'Give the key a label, such as the system that uses it.')
    if (value.length > 100) form.fail('label', 'Use at most 100 characters for the label.')
    form.done()
    return value
  }

  app.get('/api-keys', {
    preHandler: owner,
    schema: { tags: ['api keys'], security, operationId: 'listApiKeys', summary: 'The merchant\'s API keys (never their secrets)', response: { 200: Type.Object({ data: Type.Array(ApiKeySchema) }), ...problemResponses(401, 403) } }
  }, async (request) => {
    const consoleKey = await merchantKeys.consoleKeyId(request.user!.merchantId)
    return { data: (await listApiKeys(merchants, request.user!.merchantId)).filter((k) => k.keyId !== consoleKey).map(keyView) }
  })

  app.post('/api-keys', {
    preHandler: owner,
    schema: { tags: ['api keys'], security, operationId: 'createApiKey', summary: 'Create an API key: shown once', body: LabelBody, response: { 201: Type.Object({ id: Type.String(), label: Type.String(), key: Type.String(), createdAt: Type.String() }), ...problemResponses(401, 403) } }
  }, async (request, reply) => {
    const label = readLabel(request.body.label)
    const made = await createApiKey(merchants, { merchantId: request.user!.merchantId, label })
    request.log.info({ keyId: made.info.keyId, by: request.user!.id }, 'API key created')
    return await reply.code(201).send({ id: made.info.keyId, label: made.info.label, key: made.key, createdAt: made.info.createdAt })
  })

  app.patch('/api-keys/:id', {
    preHandler: owner,
    schema: { tags: ['api keys'], security, operationId: 'labelApiKey', summary: 'Change a key\'s label', params: IdParams, body: LabelBody, response: { 200: ApiKeySchema, ...problemResponses(401, 403, 404) } }
  }, async (request) => {
    const label = readLabel(request.body.label)
    await ownKey(request, request.params.id)
    await merchants.updateTable('api_keys').set({ label }).where('id', '=', request.params.id).where('merchant_id', '=', request.user!.merchantId).execute()
    return keyView(await ownKey(request, request.params.id))
  })

  app.post('/api-keys/:id/revoke', {
    preHandler: owner,
    schema: { tags: ['api keys'], security, operationId: 'revokeApiKey', summary: 'Revoke a key: refused by every service at once', params: IdParams, response: { 204: Type.Null(), ...problemResponses(401, 403, 404) } }
  }, async (request, reply) => {
    const key = await ownKey(request, request.params.id)
    if (key.revokedAt === null) await revokeApiKey(merchants, key.keyId)
    request.log.info({ keyId: key.keyId, by: request.user!.id }, 'API key revoked')
    return await reply.code(204).send(null)
  })

  // Webhook endpoints: webhook-dispatch's API for the signed-in merchant, bodies as its own.
  const endpoint = (id?: string) => `/v1/webhook-endpoints${id === undefined ? '' : `/${id}`}`
  app.get('/webhook-endpoints', { preHandler: owner, schema: { tags: ['webhooks'], security, operationId: 'listWebhookEndpoints', summary: 'The merchant\'s webhook endpoints', response: { 200: Anything, ...problemResponses(401, 403) } } },
    async (request) => relay('webhook-dispatch', await call('webhook-dispatch', request, { path: endpoint() })))
  app.post('/webhook-endpoints', { preHandler: owner, schema: { tags: ['webhooks'], security, operationId: 'createWebhookEndpoint', summary: 'Register an endpoint (the secret is shown once)', body: Anything, response: { 201: Anything, ...problemResponses(401, 403) } } },
    async (request, reply) => await relayed(reply, 'webhook-dispatch', await call('webhook-dispatch', request, { method: 'POST', path: endpoint(), body: request.body ?? {} })))
  app.patch('/webhook-endpoints/:id', { preHandler: owner, schema: { tags: ['webhooks'], security, operationId: 'updateWebhookEndpoint', summary: 'Change an endpoint', params: IdParams, body: Anything, response: { 200: Anything, ...problemResponses(401, 403, 404) } } },
    async (request, reply) => await relayed(reply, 'webhook-dispatch', await call('webhook-dispatch', request, { method: 'PATCH', path: endpoint(request.params.id), body: request.body ?? {} })))
  app.delete('/webhook-endpoints/:id', { preHandler: owner, schema: { tags: ['webhooks'], security, operationId: 'deleteWebhookEndpoint', summary: 'Delete an endpoint', params: IdParams, response: { 204: Type.Null(), ...problemResponses(401, 403, 404) } } },
    async (request, reply) => await relayed(reply, 'webhook-dispatch', await call('webhook-dispatch', request, { method: 'DELETE', path: endpoint(request.params.id) })))
  app.post('/webhook-endpoints/:id/rotate-secret', { preHandler: owner, schema: { tags: ['webhooks'], security, operationId: 'rotateWebhookSecret', summary: 'A new signing secret (shown once)', params: IdParams, body: Type.Union([Anything, Type.Null()]), response: { 200: Anything, ...problemResponses(401, 403, 404) } } },
    async (request, reply) => await relayed(reply, 'webhook-dispatch', await call('webhook-dispatch', request, { method: 'POST', path: `${endpoint(request.params.id)}/rotate-secret`, body: request.body ?? {} })))
}
