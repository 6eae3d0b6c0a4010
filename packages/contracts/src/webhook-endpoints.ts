import { Type, type Static } from '@sinclair/typebox'
import { defineEvent, type RecordedEventOf } from './registry.js'
import { DateTimeSchema } from './primitives.js'

// A merchant's webhook endpoints (issue 14): their configuration changes are facts, published by
// webhook-dispatch on the stream `webhook-endpoint.<endpointId>`. No secret travels in an event:
// the sealed signing secret of each version is kept in webhook-dispatch's own table.

/** `whe_` + url-safe characters. */
export const WebhookEndpointIdSchema = Type.String({ pattern: '^whe_[A-Za-z0-9_-]{10,64}$', description: 'Webhook endpoint id' })

/** The event types a partner's endpoint can receive (Standard Webhooks style: `group.event`). */
export const WEBHOOK_EVENT_TYPES = [
  'payment_link.issued', 'payment_link.paid', 'payment_link.canceled', 'payment_link.expired',
  'payment_link.refunded', 'payment_link.failed', 'webhook_endpoint.disabled'
] as const
export type WebhookEventType = typeof WEBHOOK_EVENT_TYPES[number]
export const WebhookEventTypeSchema = Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)), { description: 'A partner webhook event type' })

/** Why an endpoint stopped receiving: it kept failing, it answered 410 Gone, or the merchant said so. */
export const WebhookDisabledReasonSchema = Type.Union([Type.Literal('failing'), Type.Literal('gone'), Type.Literal('merchant')])

/** The stream of one endpoint. */
export const webhookEndpointStream = (endpointId: string): string => `webhook-endpoint.${endpointId}`

const Url = Type.String({ format: 'uri', maxLength: 2048 })
const EventTypes = Type.Array(WebhookEventTypeSchema, { minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length, uniqueItems: true })
const Description = Type.String({ maxLength: 500 })

export const WebhookEndpointCreated = defineEvent('webhook-endpoint.created', Type.Object({
  endpointId: WebhookEndpointIdSchema,
  merchantId: Type.String({ pattern: '^mer_[A-Za-z0-9_-]{6,64}$' }),
  url: Url,
  eventTypes: EventTypes,
  description: Type.Optional(Description),
  /** The version of the first signing secret (1): its sealed value is in webhook-dispatch's table. */
  secretVersion: Type.Integer({ minimum: 1 })
}, { additionalProperties: false }))

export const WebhookEndpointUpdated = defineEvent('webhook-endpoint.updated', Type.Object({
  endpointId: WebhookEndpointIdSchema,
  url: Type.Optional(Url),
  eventTypes: Type.Optional(EventTypes),
  description: Type.Optional(Description)
}, { additionalProperties: false }))

/** A new signing secret; the previous one still signs (beside it) until `previousValidUntil`. */
export const WebhookEndpointSecretRotated = defineEvent('webhook-endpoint.secret-rotated', Type.Object({
  endpointId: WebhookEndpointIdSchema,
  secretVersion: Type.Integer({ minimum: 2 }),
  previousValidUntil: DateTimeSchema
}, { additionalProperties: false }))

export const WebhookEndpointDisabled = defineEvent('webhook-endpoint.disabled', Type.Object({
  endpointId: WebhookEndpointIdSchema,
  merchantId: Type.String({ pattern: '^mer_[A-Za-z0-9_-]{6,64}$' }),
  reason: WebhookDisabledReasonSchema,
  detail: Type.Optional(Type.String({ maxLength: 1000 })),
  /** For `failing`: since when every attempt failed. */
  failingSince: Type.Optional(DateTimeSchema)
}, { additionalProperties: false }))

export const WebhookEndpointEnabled = defineEvent('webhook-endpoint.enabled', Type.Object({
  endpointId: WebhookEndpointIdSchema
}, { additionalProperties: false }))

export const WebhookEndpointDeleted = defineEvent('webhook-endpoint.deleted', Type.Object({
  endpointId: WebhookEndpointIdSchema
}, { additionalProperties: false }))

export const webhookEndpointEvents = [
  WebhookEndpointCreated, WebhookEndpointUpdated, WebhookEndpointSecretRotated,
  WebhookEndpointDisabled, WebhookEndpointEnabled, WebhookEndpointDeleted
] as const

export type WebhookEndpointEvent = RecordedEventOf<typeof webhookEndpointEvents[number]>

/** An endpoint as its events tell it. */
export interface WebhookEndpointState {
  endpointId: string
  merchantId: string
  url: string
  eventTypes: WebhookEventType[]
  description: string
  status: 'enabled' | 'disabled' | 'deleted'
  disabled?: { reason: Static<typeof WebhookDisabledReasonSchema>, detail?: string, at: string }
  secretVersion: number
  /** Until when the previous secret still signs (after a rotation). */
  previousValidUntil?: string
  createdAt: string
  updatedAt: string
}

/**
 * The one fold of an endpoint's stream: undefined until created; nothing moves a deleted one.
 * Events of other types leave the state as it is.
 */
export function evolveWebhookEndpoint (state: WebhookEndpointState | undefined, event: { type: string, data: Record<string, unknown>, occurredAt: string }): WebhookEndpointState | undefined {
  const d = event.data as any
  if (state === undefined) {
    if (event.type !== WebhookEndpointCreated.type) return undefined
    return {
      endpointId: d.endpointId,
      merchantId: d.merchantId,
      url: d.url,
      eventTypes: d.eventTypes,
      description: d.description ?? '',
      status: 'enabled',
      secretVersion: d.secretVersion,
      createdAt: event.occurredAt,
      updatedAt: event.occurredAt
    }
  }
  if (state.status === 'deleted') return state
  const next: WebhookEndpointState = { ...state, updatedAt: event.occurredAt }
  switch (event.type) {
    case WebhookEndpointUpdated.type:
      if (d.url !== undefined) next.url = d.url
      if (d.eventTypes !== undefined) next.eventTypes = d.eventTypes
      if (d.description !== undefined) next.description = d.description
      return next
    case WebhookEndpointSecretRotated.type:
      return { ...next, secretVersion: d.secretVersion, previousValidUntil: d.previousValidUntil }
    case WebhookEndpointDisabled.type:
      return { ...next, status: 'disabled', disabled: { reason: d.reason, ...(d.detail === undefined ? {} : { detail: d.detail }), at: event.occurredAt } }
    case WebhookEndpointEnabled.type: {
      const { disabled: _gone, ...rest } = next
      return { ...rest, status: 'enabled' }
    }
    case WebhookEndpointDeleted.type:
      return { ...next, status: 'deleted' }
    default:
      return state
  }
}
