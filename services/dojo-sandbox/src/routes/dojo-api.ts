import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { routeDefaults } from '@paylinks/service-kit'
import type { SandboxError } from '../errors.js'
import { unauthorized, validationError } from '../errors.js'
import { newTraceId } from '../ids.js'
import {
  AspNetErrorSchema, CaptureSchema, CreateCaptureRequestSchema, CreatePaymentIntentRequestSchema, CreateRefundRequestSchema,
  GetPaymentIntentQuerySchema, PagedPaymentIntentsSchema, PaymentIntentIdParamsSchema, PaymentIntentSchema, RefundSchema,
  RefundIdParamsSchema, ReversalSchema, SearchPaymentIntentRequestSchema, SendEmailReceiptRequestSchema, SecretParamsSchema, SecretsResponseSchema, SubscriptionParamsSchema,
  SubscriptionRequestSchema, SubscriptionSchema, SubscriptionUpdateRequestSchema, VersionHeaderSchema, WEBHOOK_EVENTS,
  WebhookEventsCatalogueSchema
} from '../schemas.js'
import type { Sandbox, Subscription } from '../sandbox.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The raw sandbox secret key of the caller; set by the Dojo API's auth hook. */
    dojoKey: string
  }
}

const KEY = /^Basic (sk_sandbox_[A-Za-z0-9_-]{1,200})$/
const VERSION = /^\d{4}-\d{2}-\d{2}$/

const errors = {
  400: AspNetErrorSchema,
  401: AspNetErrorSchema,
  404: AspNetErrorSchema,
  409: AspNetErrorSchema
}

const STATUS_TYPES: Record<number, { type: string, title: string }> = {
  400: { type: 'https://tools.ietf.org/html/rfc7231#section-6.5.1', title: 'One or more validation errors occurred.' },
  401: { type: 'https://tools.ietf.org/html/rfc7235#section-3.1', title: 'Unauthorized' },
  404: { type: 'https://tools.ietf.org/html/rfc7231#section-6.5.4', title: 'Not Found' },
  409: { type: 'https://tools.ietf.org/html/rfc7231#section-6.5.8', title: 'Conflict' },
  413: { type: 'https://tools.ietf.org/html/rfc7231#section-6.5.11', title: 'Payload Too Large' },
  415: { type: 'https://tools.ietf.org/html/rfc7231#section-6.5.13', title: 'Unsupported Media Type' },
  500: { type: 'https://tools.ietf.org/html/rfc7231#section-6.6.1', title: 'An error occurred while processing your request.' }
}

/**
 * Dojo's API, under its real paths. Encapsulated: its own auth hook and its own error handler,
 * which answers in ASP.NET's problem-details shape (PascalCase keys, traceparent traceId) as
 * Dojo does, not in our problem+json.
 */
export async function dojoApi (app: FastifyInstance, options: { sandbox: Sandbox }): Promise<void> {
  const { sandbox } = options
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  routeDefaults(app, { security: [{ dojoKey: [] }] })

  app.decorateRequest('dojoKey', '')
  app.addHook('onRequest', async (request) => {
    // The raw key, not base64; a production key is refused, as the sandbox host would.
    const match = KEY.exec(request.headers.authorization ?? '')
    if (match === null) throw unauthorized()
    request.dojoKey = match[1]!
    const version = request.headers.version
    if (typeof version !== 'string' || version === '') throw validationError('version', 'The version field is required.')
    if (!VERSION.test(version) || Number.isNaN(Date.parse(version))) throw validationError('version', `The value '${version}' is not a valid version: use yyyy-mm-dd, e.g. 2026-02-27.`)
  })
  // ASP.NET binds JSON keys case-insensitively: Dojo's own Manual-capture example sends
  // `AutoExpireAction`. Keys are renamed to the schema's before validation checks them.
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema?.body as JsonSchema | undefined
    if (schema !== undefined && request.body !== undefined) request.body = bindKeys(request.body, schema)
  })
  app.setErrorHandler(function (error: FastifyError & Partial<SandboxError>, request, reply) {
    return renderAspNetError(error, request, reply)
  })

  const headers = VersionHeaderSchema
  const intentTags = ['payment-intents']
  const webhookTags = ['webhooks']

  api.post('/payment-intents', {
    schema: { operationId: 'createPaymentIntent', tags: intentTags, summary: 'Create a payment intent', headers, body: CreatePaymentIntentRequestSchema, response: { 200: PaymentIntentSchema, ...errors } }
  }, async (request) => sandbox.view(sandbox.createIntent(request.dojoKey, request.body)))

  api.get('/payment-intents/:paymentIntentId', {
    schema: { operationId: 'getPaymentIntent', tags: intentTags, summary: 'Retrieve a payment intent', headers, params: PaymentIntentIdParamsSchema, querystring: GetPaymentIntentQuerySchema, response: { 200: PaymentIntentSchema, ...errors } }
  }, async (request) => sandbox.view(sandbox.getIntent(request.dojoKey, request.params.paymentIntentId, { returnCanceled: request.query.returnCanceled === true })))

  api.delete('/payment-intents/:paymentIntentId', {
    schema: { operationId: 'cancelPaymentIntent', tags: intentTags, summary: 'Cancel a payment intent (only while Created)', headers, params: PaymentIntentIdParamsSchema, response: { 200: PaymentIntentSchema, ...errors } }
  }, async (request) => sandbox.view(sandbox.cancel(request.dojoKey, request.params.paymentIntentId)))

  api.post('/payment-intents/:paymentIntentId/captures', {
    schema: { operationId: 'capturePaymentIntent', tags: intentTags, summary: 'Capture an authorised payment (Manual capture mode), fully or partly', headers, params: PaymentIntentIdParamsSchema, body: CreateCaptureRequestSchema, response: { 200: CaptureSchema, ...errors } }
  }, async (request) => sandbox.capture(request.dojoKey, request.params.paymentIntentId, request.body.amount))

  api.post('/payment-intents/:paymentIntentId/refunds', {
    schema: {
      operationId: 'refundPaymentIntent',
      tags: intentTags,
      summary: 'Refund a captured payment, fully or partly',
      headers: Type.Object({ ...VersionHeaderSchema.properties, idempotencykey: Type.Optional(Type.String({ description: 'Required; at most 100 characters. The same key replays the same refund.' })) }),
      params: PaymentIntentIdParamsSchema,
      body: CreateRefundRequestSchema,
      response: { 200: RefundSchema, ...errors }
    }
  }, async (request) => {
    const key = request.headers.idempotencykey
    if (key === undefined || key === '') throw validationError('idempotencyKey', 'The idempotencyKey field is required.')
    if (key.length > 100) throw validationError('idempotencyKey', "The field idempotencyKey must be a string with a maximum length of '100'.")
    return sandbox.refund(request.dojoKey, request.params.paymentIntentId, key, request.body)
  })

  api.get('/payment-intents/refunds/:refundId', {
    schema: { operationId: 'getRefund', tags: intentTags, summary: 'Retrieve a refund by its id', headers, params: RefundIdParamsSchema, response: { 200: RefundSchema, ...errors } }
  }, async (request) => sandbox.getRefund(request.dojoKey, request.params.refundId))

  api.post('/payment-intents/:paymentIntentId/receipt', {
    schema: { operationId: 'sendPaymentIntentReceipt', tags: intentTags, summary: 'Ask for an e-mail receipt of a payment (recorded; the sandbox sends no e-mail)', headers, params: PaymentIntentIdParamsSchema, body: SendEmailReceiptRequestSchema, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    sandbox.sendReceipt(request.dojoKey, request.params.paymentIntentId, request.body.emails)
    return reply.code(204).send(null)
  })

  api.post('/payment-intents/:paymentIntentId/reversal', {
    schema: { operationId: 'reversePaymentIntent', tags: intentTags, summary: 'Reverse (void) an authorised or captured payment', headers, params: PaymentIntentIdParamsSchema, response: { 200: ReversalSchema, ...errors } }
  }, async (request) => sandbox.reverse(request.dojoKey, request.params.paymentIntentId))

  api.post('/payment-intents/search', {
    schema: { operationId: 'searchPaymentIntents', tags: intentTags, summary: 'Search payment intents, newest first, with cursors', headers, body: SearchPaymentIntentRequestSchema, response: { 200: PagedPaymentIntentsSchema, ...errors } }
  }, async (request) => {
    const page = sandbox.search(request.dojoKey, request.body ?? {})
    return { data: page.data.map((i) => sandbox.view(i)), before: page.before, after: page.after }
  })

  api.post('/payment-intents/:paymentIntentId/refresh-client-session-secret', {
    schema: { operationId: 'refreshClientSessionSecret', tags: intentTags, summary: 'Issue a new client session secret', headers, params: PaymentIntentIdParamsSchema, response: { 200: PaymentIntentSchema, ...errors } }
  }, async (request) => sandbox.view(sandbox.refreshSessionSecret(request.dojoKey, request.params.paymentIntentId)))

  // Webhook subscriptions

  api.get('/webhooks/events', {
    schema: { operationId: 'listWebhookEvents', tags: webhookTags, summary: 'The events one can subscribe to', headers, response: { 200: WebhookEventsCatalogueSchema, ...errors } }
  }, async () => [{ model: 'PaymentIntent', events: [...WEBHOOK_EVENTS] }])

  api.post('/webhooks', {
    schema: { operationId: 'createWebhookSubscription', tags: webhookTags, summary: 'Subscribe to events (created with one active secret)', headers, body: SubscriptionRequestSchema, response: { 200: SubscriptionSchema, ...errors } }
  }, async (request) => {
    checkEvents(request.body.events)
    checkUrl(request.body.url)
    return subscriptionView(sandbox.createSubscription(request.dojoKey, request.body))
  })

  api.get('/webhooks', {
    schema: { operationId: 'listWebhookSubscriptions', tags: webhookTags, summary: 'List subscriptions', headers, response: { 200: Type.Array(SubscriptionSchema), ...errors } }
  }, async (request) => sandbox.subscriptions(request.dojoKey).map(subscriptionView))

  api.patch('/webhooks/:subscriptionId', {
    schema: { operationId: 'updateWebhookSubscription', tags: webhookTags, summary: 'Change a subscription', headers, params: SubscriptionParamsSchema, body: SubscriptionUpdateRequestSchema, response: { 200: SubscriptionSchema, ...errors } }
  }, async (request) => {
    if (request.body.events != null) checkEvents(request.body.events)
    if (request.body.url != null) checkUrl(request.body.url)
    return subscriptionView(sandbox.updateSubscription(request.dojoKey, request.params.subscriptionId, request.body))
  })

  api.delete('/webhooks/:subscriptionId', {
    schema: { operationId: 'deleteWebhookSubscription', tags: webhookTags, summary: 'Delete a subscription', headers, params: SubscriptionParamsSchema, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    sandbox.deleteSubscription(request.dojoKey, request.params.subscriptionId)
    return reply.code(204).send(null)
  })

  api.get('/webhooks/:subscriptionId/secrets', {
    schema: { operationId: 'listWebhookSecrets', tags: webhookTags, summary: "A subscription's secrets", headers, params: SubscriptionParamsSchema, response: { 200: SecretsResponseSchema, ...errors } }
  }, async (request) => secretsView(sandbox.getSubscription(request.dojoKey, request.params.subscriptionId)))

  api.post('/webhooks/:subscriptionId/secrets', {
    schema: { operationId: 'createWebhookSecret', tags: webhookTags, summary: 'Generate a new (inactive) secret', headers, params: SubscriptionParamsSchema, response: { 200: SecretsResponseSchema, ...errors } }
  }, async (request) => secretsView(sandbox.addSecret(request.dojoKey, request.params.subscriptionId)))

  api.put('/webhooks/:subscriptionId/secrets/:secretId/activate', {
    schema: { operationId: 'activateWebhookSecret', tags: webhookTags, summary: 'Make a secret the one that signs (the others become inactive)', headers, params: SecretParamsSchema, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    sandbox.activateSecret(request.dojoKey, request.params.subscriptionId, request.params.secretId)
    return reply.code(204).send(null)
  })

  api.delete('/webhooks/:subscriptionId/secrets/:secretId', {
    schema: { operationId: 'deleteWebhookSecret', tags: webhookTags, summary: 'Delete an inactive secret', headers, params: SecretParamsSchema, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    sandbox.deleteSecret(request.dojoKey, request.params.subscriptionId, request.params.secretId)
    return reply.code(204).send(null)
  })
}

interface JsonSchema { properties?: Record<string, JsonSchema>, anyOf?: JsonSchema[], items?: JsonSchema }

/** A body's keys renamed to the schema's property names where they differ only in case. */
export function bindKeys (value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value)) {
    const items = schema.items ?? schema.anyOf?.find((v) => v.items !== undefined)?.items
    return items === undefined ? value : value.map((v) => bindKeys(v, items))
  }
  if (value === null || typeof value !== 'object') return value
  const variants = [schema, ...(schema.anyOf ?? [])]
  const properties: Record<string, JsonSchema> = Object.assign({}, ...variants.map((v) => v.properties ?? {}))
  const names = Object.keys(properties)
  // Only objects with named properties: a Record's keys (metadata) are data, left alone.
  if (names.length === 0) return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const name = key in properties ? key : names.find((n) => n.toLowerCase() === key.toLowerCase()) ?? key
    out[name] = properties[name] === undefined ? v : bindKeys(v, properties[name])
  }
  return out
}

function checkEvents (events: string[]): void {
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e))
  if (unknown.length > 0) throw validationError('Events', `Unknown event(s): ${unknown.join(', ')}. See GET /webhooks/events.`)
}

/** https everywhere; plain http only to this machine, so a local receiver can be tested. */
export function checkUrl (raw: string): void {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw validationError('Url', 'The Url field is not a valid URL.')
  }
  if (url.protocol === 'https:') return
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return
  throw validationError('Url', 'The Url must use https:// (http:// is allowed only for localhost, 127.0.0.0/8 and ::1).')
}

function isLoopback (hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true
  const parts = hostname.split('.')
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)
}

function subscriptionView (s: Subscription) {
  return {
    id: s.id,
    accountId: s.accountId,
    events: s.events,
    url: s.url,
    ...(s.description === undefined ? {} : { description: s.description }),
    secrets: secretsView(s).secrets,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString()
  }
}

function secretsView (s: Subscription) {
  return {
    id: s.id,
    secrets: s.secrets.map((x) => ({ id: x.id, value: x.value, createdAt: x.createdAt.toISOString(), ...(x.lastUsedAt === undefined ? {} : { lastUsedAt: x.lastUsedAt.toISOString() }), isActive: x.isActive }))
  }
}

interface AjvError { keyword: string, instancePath: string, schemaPath: string, params: Record<string, unknown>, message?: string }

function renderAspNetError (error: FastifyError & Partial<SandboxError>, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const traceId = newTraceId()
  if (error.validation !== undefined) {
    const fields = validationFields(error.validation as AjvError[], error.validationContext ?? 'body')
    request.log.info({ fields: Object.keys(fields), traceId }, 'dojo request refused: validation')
    return reply.code(400).send({ ...STATUS_TYPES[400]!, status: 400, errors: fields, traceId })
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  if (status >= 500) {
    request.log.error({ err: error, traceId }, 'dojo request failed')
    return reply.code(500).send({ ...STATUS_TYPES[500]!, status: 500, traceId })
  }
  const kind = STATUS_TYPES[status] ?? { type: 'about:blank', title: 'Error' }
  request.log.info({ status, code: error.code, traceId }, 'dojo request refused')
  if (status === 400) {
    // Malformed JSON or an empty body: ASP.NET files these under "$" or "".
    const fields = error.fields ?? { [error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? '' : '$']: [error.message] }
    return reply.code(400).send({ ...kind, status, errors: fields, traceId })
  }
  return reply.code(status).send({ ...kind, status, detail: error.message, traceId })
}

function validationFields (errors: AjvError[], context: string): Record<string, string[]> {
  const fields: Record<string, string[]> = {}
  const add = (key: string, message: string): void => {
    const list = fields[key] ?? (fields[key] = [])
    if (!list.includes(message)) list.push(message)
  }
  // Errors inside a union's branches are noise ("must be null", "must be equal to constant")
  // unless they say something specific; the union's own error speaks for the field then.
  const specific = errors.filter((e) => !(e.schemaPath.includes('/anyOf/') && (e.keyword === 'type' || e.keyword === 'const')) && e.keyword !== 'anyOf')
  const covered = (path: string): boolean => specific.some((e) => e.instancePath === path || e.instancePath.startsWith(path + '/'))
  for (const e of errors) {
    if (e.keyword === 'anyOf' && !covered(e.instancePath)) add(fieldName(e.instancePath, context), `The value is not valid for ${fieldName(e.instancePath, context) || 'the request'}.`)
  }
  for (const e of specific) {
    let path = e.instancePath
    if (e.keyword === 'required') path += `/${String(e.params.missingProperty)}`
    if (e.keyword === 'additionalProperties') path += `/${String(e.params.additionalProperty)}`
    const name = fieldName(path, context)
    add(name, message(e, name))
  }
  return fields
}

function fieldName (instancePath: string, context: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '')
  if (parts.length === 0) return context === 'body' ? '' : pascal(context)
  let out = ''
  for (const part of parts) {
    if (/^\d+$/.test(part)) out += `[${part}]`
    else out += (out === '' ? '' : '.') + pascal(part)
  }
  return out
}

function pascal (s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

function message (e: AjvError, name: string): string {
  const label = name.split('.').at(-1) ?? name
  switch (e.keyword) {
    case 'required': return `The ${label} field is required.`
    case 'additionalProperties': return `The JSON property '${String(e.params.additionalProperty)}' could not be mapped to any .NET member contained in the request type.`
    case 'maxLength': return `The field ${label} must be a string or array type with a maximum length of '${String(e.params.limit)}'.`
    case 'minLength': return `The field ${label} must be a string or array type with a minimum length of '${String(e.params.limit)}'.`
    case 'minItems': return `The field ${label} must be a string or array type with a minimum length of '${String(e.params.limit)}'.`
    case 'minimum':
    case 'maximum': return `The field ${label} is out of range (${e.message ?? ''}).`
    case 'format': return `The ${label} field is not a valid ${String(e.params.format)}.`
    case 'type': return `The JSON value could not be converted to ${String(e.params.type)}. Path: $${name === '' ? '' : '.' + name}.`
    default: return `The ${label} field is invalid: ${e.message ?? e.keyword}.`
  }
}
