import { randomBytes } from 'node:crypto'
import type { FastifyError, FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { MerchantIdSchema, PaymentIntentIdSchema } from '@paylinks/contracts'
import { verifyWebhookSignature } from '@paylinks/dojo-client'
import { problemResponses, sendProblem, ServiceError } from '@paylinks/service-kit'
import { IngestErrorCodes } from '../errors.js'
import type { DeliveryOutcome, IngestMetrics } from '../metrics.js'
import type { Receiver } from '../receiver.js'
import type { Subscriptions } from '../subscriptions.js'

/** The part of Dojo's delivery we rely on; Dojo may add fields. */
export const DojoDeliverySchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100 }),
  event: Type.String({ pattern: '^payment_intent\\.[a-z_.-]+$', maxLength: 100 }),
  accountId: Type.Optional(Type.String()),
  createdAt: Type.Optional(Type.String()),
  data: Type.Object({
    paymentIntentId: PaymentIntentIdSchema,
    paymentStatus: Type.String({ minLength: 1, maxLength: 50 }),
    captureMode: Type.Optional(Type.String())
  })
})
const deliveryCheck = TypeCompiler.Compile(DojoDeliverySchema)
const merchantIdCheck = TypeCompiler.Compile(MerchantIdSchema)

const AcceptedSchema = Type.Object({
  status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate'), Type.Literal('pending')], {
    description: 'accepted: recorded now; duplicate: recorded before; pending: kept until the intent\'s link is known'
  })
}, { title: 'WebhookAccepted' })

export interface WebhookRoutesOptions {
  subscriptions: Subscriptions
  receiver: Receiver
  metrics: IngestMetrics
  bodyLimit: number
}

declare module 'fastify' {
  interface FastifyRequest {
    webhookOutcome: DeliveryOutcome | undefined
  }
}

// Deliveries for a merchant we do not have are verified against this, so that they cost the
// same work and get the same 401 as a bad signature for one we have: the endpoint does not
// tell who our merchants are.
const NO_MERCHANT_SECRETS = [randomBytes(24).toString('base64url')]

function refuse (outcome: DeliveryOutcome, code: string, status: number, message: string, request: { webhookOutcome: DeliveryOutcome | undefined }): ServiceError {
  request.webhookOutcome = outcome
  return new ServiceError(code, status, message)
}

/**
 * POST /webhooks/dojo/{merchantId}: Dojo's deliveries. The raw body is kept as bytes (this
 * plugin's own JSON parser) because the signature covers exactly those bytes. Nothing is parsed
 * before the signature is verified; nothing changes for a refused delivery.
 */
export async function webhookRoutes (app: FastifyInstance, options: WebhookRoutesOptions): Promise<void> {
  const { subscriptions, receiver, metrics } = options
  app.decorateRequest('webhookOutcome', undefined)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (_request, body, done) => { done(null, body) })

  app.setErrorHandler((error: FastifyError, request) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw refuse('too_large', IngestErrorCodes.tooLarge, 413, `The body is larger than ${options.bodyLimit} bytes.`, request)
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      throw refuse('malformed', IngestErrorCodes.malformed, error.statusCode ?? 400, error.message, request)
    }
    throw error
  })
  app.addHook('onResponse', async (request, reply) => {
    metrics.delivery(request.webhookOutcome ?? (reply.statusCode === 413 ? 'too_large' : reply.statusCode < 500 && reply.statusCode >= 400 ? 'malformed' : 'error'), reply.elapsedTime)
  })

  app.post<{ Params: { merchantId: string } }>('/webhooks/dojo/:merchantId', {
    bodyLimit: options.bodyLimit,
    logLevel: 'warn',
    schema: {
      operationId: 'receiveDojoWebhook',
      tags: ['webhooks'],
      summary: 'Receive a Dojo webhook delivery',
      // No API key: Dojo signs each delivery (dojo-signature), checked against the merchant's secrets.
      security: [],
      description: 'Signed with `dojo-signature: sha256=<HMAC-SHA256 of the raw body, upper-case hex pairs joined by ->` under one of the merchant\'s subscription secrets. Answered once the delivery is durable.',
      params: Type.Object({ merchantId: Type.String({ maxLength: 100 }) }),
      headers: Type.Object({ 'dojo-signature': Type.Optional(Type.String({ maxLength: 1000 })) }),
      response: { 200: AcceptedSchema, 202: AcceptedSchema, ...problemResponses(400, 401, 413, 415, 500, 503) }
    }
  }, async (request, reply) => {
    const { merchantId } = request.params
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const wellFormed = merchantIdCheck.Check(merchantId)
    const secrets = wellFormed ? await subscriptions.secretsFor(merchantId) : undefined
    const header = request.headers['dojo-signature']
    let verified = typeof header === 'string' && verifyWebhookSignature(raw, header, secrets ?? NO_MERCHANT_SECRETS) && secrets !== undefined
    if (!verified && typeof header === 'string' && wellFormed) {
      // A secret rotated (or the merchant added) on another instance since we cached: read once more (rate-limited).
      const fresh = await subscriptions.secretsFor(merchantId, true)
      verified = fresh !== secrets && fresh !== undefined && verifyWebhookSignature(raw, header, fresh)
    }
    if (!verified) {
      request.webhookOutcome = secrets === undefined ? 'unknown_merchant' : 'unauthorized'
      // Sent here, without the `instance` the error handler adds: the same bytes for every merchant id.
      return await sendProblem(reply, 401, { code: IngestErrorCodes.unauthorized, detail: 'Missing or invalid dojo-signature.' })
    }

    let body: unknown
    try {
      body = JSON.parse(raw.toString('utf8'))
    } catch {
      throw refuse('malformed', IngestErrorCodes.malformed, 400, 'The body is not JSON.', request)
    }
    if (!deliveryCheck.Check(body)) {
      const first = deliveryCheck.Errors(body).First()
      throw refuse('malformed', IngestErrorCodes.malformed, 400, `Not a Dojo payment-intent event${first === undefined ? '' : `: ${first.path || '/'} ${first.message}`}.`, request)
    }
    const outcome = await receiver.receive({
      merchantId,
      dojoEventId: body.id,
      event: body.event,
      paymentIntentId: body.data.paymentIntentId,
      paymentStatus: body.data.paymentStatus,
      receivedAt: new Date()
    })
    request.webhookOutcome = outcome
    return await reply.code(outcome === 'pending' ? 202 : 200).send({ status: outcome })
  })
}
