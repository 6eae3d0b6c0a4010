import { Type, type Static } from '@sinclair/typebox'
import { WebhookDisabledReasonSchema, WebhookEventTypeSchema, WEBHOOK_EVENT_TYPES } from '@paylinks/contracts'

const DateTime = Type.String({ format: 'date-time' })
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const EndpointIdParams = Type.Object({ id: Type.String({ pattern: '^whe_[A-Za-z0-9_-]{10,64}$', description: 'the endpoint id' }) })

const EventTypes = Type.Array(WebhookEventTypeSchema, { minItems: 1, uniqueItems: true, description: `what to receive; default every type (${WEBHOOK_EVENT_TYPES.join(', ')})` })

export const CreateEndpointSchema = Type.Object({
  url: Type.String({ maxLength: 2048, description: 'https:// only; never a private, loopback, link-local or metadata address (checked again at every delivery, after DNS)' }),
  eventTypes: Type.Optional(EventTypes),
  description: Type.Optional(Type.String({ maxLength: 500 }))
}, { additionalProperties: false, title: 'CreateWebhookEndpoint' })

export const UpdateEndpointSchema = Type.Object({
  url: Type.Optional(Type.String({ maxLength: 2048 })),
  eventTypes: Type.Optional(EventTypes),
  description: Type.Optional(Type.String({ maxLength: 500 })),
  enabled: Type.Optional(Type.Boolean({ description: 'true re-enables an endpoint disabled after failures; false stops deliveries' }))
}, { additionalProperties: false, minProperties: 1, title: 'UpdateWebhookEndpoint' })

export const RotateSchema = Type.Object({
  overlapHours: Type.Optional(Type.Number({ minimum: 0, maximum: 168, description: 'how long the previous secret still signs beside the new one (default 24)' }))
}, { additionalProperties: false })

export const EndpointSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  eventTypes: Type.Array(WebhookEventTypeSchema),
  status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
  disabled: Nullable(Type.Object({ reason: WebhookDisabledReasonSchema, detail: Type.Optional(Type.String()), at: DateTime })),
  secretVersion: Type.Integer(),
  previousSecretValidUntil: Nullable(DateTime),
  health: Type.Object({
    failingSince: Nullable(DateTime),
    lastSuccessAt: Nullable(DateTime),
    lastFailureAt: Nullable(DateTime)
  }),
  createdAt: DateTime,
  updatedAt: DateTime
}, { title: 'WebhookEndpoint' })
export type Endpoint = Static<typeof EndpointSchema>

export const CreatedEndpointSchema = Type.Composite([EndpointSchema, Type.Object({
  secret: Type.String({ description: 'the signing secret (whsec_…): shown now only; verify deliveries with it (Standard Webhooks)' })
})], { title: 'CreatedWebhookEndpoint' })

export const RotatedSchema = Type.Object({
  secret: Type.String({ description: 'the new signing secret (whsec_…), shown now only' }),
  secretVersion: Type.Integer(),
  previousSecretValidUntil: DateTime
}, { title: 'RotatedSecret' })

export const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  startedAt: DateTime,
  latencyMs: Type.Integer(),
  statusCode: Nullable(Type.Integer()),
  error: Nullable(Type.String())
}, { title: 'WebhookAttempt' })

export const DeliverySchema = Type.Object({
  id: Type.String(),
  eventId: Type.String({ description: 'the webhook-id' }),
  eventType: Type.String(),
  kind: Type.Union([Type.Literal('event'), Type.Literal('replay'), Type.Literal('test')]),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('canceled')]),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(DateTime),
  lastStatusCode: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  createdAt: DateTime,
  deliveredAt: Nullable(DateTime),
  log: Type.Array(AttemptSchema)
}, { title: 'WebhookDelivery' })

export const DeliveriesQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('canceled')])),
  eventId: Type.Optional(Type.String({ maxLength: 100 }))
}, { additionalProperties: false })

export const ReplaySchema = Type.Union([
  Type.Object({ eventId: Type.String({ minLength: 1, maxLength: 100, description: 'one event this endpoint was sent (or due to be sent)' }) }, { additionalProperties: false }),
  Type.Object({ since: Type.String({ format: 'date-time', description: 'every event recorded for this endpoint since then' }) }, { additionalProperties: false })
], { title: 'Replay' })

export const ReplayedSchema = Type.Object({ replayed: Type.Integer({ description: 'deliveries queued' }) }, { title: 'Replayed' })
export const TestSentSchema = Type.Object({ deliveryId: Type.String(), eventId: Type.String() }, { title: 'TestQueued' })
