import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { handleCommand } from '@paylinks/commands'
import {
  createEventRegistry, evolveWebhookEndpoint, Producers, webhookEndpointEvents, webhookEndpointStream,
  type NewEvent, type WebhookEndpointState, type WebhookEventType
} from '@paylinks/contracts'
import { readCheckpoint, type EventStore } from '@paylinks/event-store'
import type { SecretBox } from '@paylinks/merchants'
import type { EventPublisher } from '@paylinks/messaging'
import { ServiceError } from '@paylinks/service-kit'
import { FANOUT_SUBSCRIBER } from './fanout.js'
import { newSigningSecret } from './signing.js'
import { checkUrl, TargetRefusedError, type TargetPolicy } from './ssrf.js'
import type { Db } from './tables.js'

/** The endpoint events this service publishes, validated before they leave. */
export const endpointRegistry = createEventRegistry(webhookEndpointEvents)

export const newEndpointId = (): string => `whe_${randomBytes(16).toString('base64url')}`

export interface EndpointCommands {
  create: (merchantId: string, input: { url: string, eventTypes: WebhookEventType[], description?: string | undefined }, correlationId: string, endpointId?: string) => Promise<{ state: WebhookEndpointState, secret: string }>
  update: (merchantId: string, endpointId: string, patch: { url?: string | undefined, eventTypes?: WebhookEventType[] | undefined, description?: string | undefined, enabled?: boolean | undefined }, correlationId: string) => Promise<WebhookEndpointState>
  rotate: (merchantId: string, endpointId: string, overlapHours: number, correlationId: string) => Promise<{ state: WebhookEndpointState, secret: string }>
  remove: (merchantId: string, endpointId: string, correlationId: string) => Promise<void>
  /** The worker's decision: stop delivering to an endpoint that keeps failing, or said 410. */
  disable: (endpointId: string, reason: 'failing' | 'gone', detail: string, failingSince?: Date) => Promise<void>
}

export interface EndpointCommandsOptions {
  db: Db
  store: EventStore
  publisher: EventPublisher
  box: SecretBox
  policy: TargetPolicy
  /** How long a write waits for the fan-out to fold it (so the next read sees it). */
  consistencyWaitMs?: number
}

function notFound (endpointId: string): ServiceError {
  return new ServiceError('WEBHOOK_ENDPOINT_NOT_FOUND', 404, `No webhook endpoint ${endpointId} for this key.`)
}

/** Refuse a URL the guard would never call, with a problem naming why (checked again at every delivery). */
export function validateUrl (url: string, policy: TargetPolicy): void {
  try {
    checkUrl(url, policy)
  } catch (error) {
    if (error instanceof TargetRefusedError) throw new ServiceError(error.code, 400, error.message, { extra: { errors: [{ path: '/body/url', message: error.message }] } })
    throw error
  }
}

/**
 * Endpoint configuration as decisions on the endpoint's stream (handleCommand: fold, decide,
 * publish with the expected sequence). Another merchant's endpoint is as unknown as a missing
 * one. Secrets are sealed into wd_endpoint_secrets before the event naming their version is
 * published; no event holds a secret.
 */
export function createEndpointCommands (options: EndpointCommandsOptions): EndpointCommands {
  const { db, store, publisher, box } = options
  const metadata = (correlationId: string): { correlationId: string, producer: string } => ({ correlationId, producer: Producers.webhookDispatch })
  const event = (type: any, data: Record<string, unknown>, endpointId: string, correlationId: string): NewEvent =>
    endpointRegistry.create(type, data as never, { streamId: webhookEndpointStream(endpointId), metadata: metadata(correlationId) })

  /** Read-your-writes: wait (bounded) until the fan-out has folded position `position`. */
  async function folded (position: number): Promise<void> {
    const deadline = Date.now() + (options.consistencyWaitMs ?? 5000)
    while (Date.now() < deadline) {
      if (await readCheckpoint(store.db, FANOUT_SUBSCRIBER) >= position) return
      await sleep(10)
    }
  }

  async function decideOn (endpointId: string, decide: (state: WebhookEndpointState | undefined) => NewEvent[] | undefined | Promise<NewEvent[] | undefined>): Promise<WebhookEndpointState | undefined> {
    const result = await handleCommand<WebhookEndpointState | undefined>({
      store,
      publisher,
      streamId: webhookEndpointStream(endpointId),
      initialState: () => undefined,
      evolve: (state, e) => evolveWebhookEndpoint(state, e),
      decide
    })
    if (result.events.length > 0) await folded(result.position)
    return result.state
  }

  const owned = (state: WebhookEndpointState | undefined, merchantId: string, endpointId: string): WebhookEndpointState => {
    if (state === undefined || state.status === 'deleted' || state.merchantId !== merchantId) throw notFound(endpointId)
    return state
  }

  return {
    async create (merchantId, input, correlationId, endpointId = newEndpointId()) {
      validateUrl(input.url, options.policy)
      const secret = newSigningSecret()
      await db.insertInto('wd_endpoint_secrets').values({ endpoint_id: endpointId, version: 1, sealed: box.encrypt(secret) }).execute()
      const state = await decideOn(endpointId, (s) => {
        if (s !== undefined) throw new ServiceError('WEBHOOK_ENDPOINT_EXISTS', 409, `Endpoint ${endpointId} exists already.`)
        return [event('webhook-endpoint.created', {
          endpointId, merchantId, url: input.url, eventTypes: input.eventTypes, ...(input.description === undefined ? {} : { description: input.description }), secretVersion: 1
        }, endpointId, correlationId)]
      })
      return { state: state!, secret }
    },

    async update (merchantId, endpointId, patch, correlationId) {
      if (patch.url !== undefined) validateUrl(patch.url, options.policy)
      const state = await decideOn(endpointId, (s) => {
        const current = owned(s, merchantId, endpointId)
        const events: NewEvent[] = []
        const changes: Record<string, unknown> = {}
        if (patch.url !== undefined && patch.url !== current.url) changes.url = patch.url
        if (patch.eventTypes !== undefined && JSON.stringify([...patch.eventTypes].sort()) !== JSON.stringify([...current.eventTypes].sort())) changes.eventTypes = patch.eventTypes
        if (patch.description !== undefined && patch.description !== current.description) changes.description = patch.description
        if (Object.keys(changes).length > 0) events.push(event('webhook-endpoint.updated', { endpointId, ...changes }, endpointId, correlationId))
        if (patch.enabled === true && current.status === 'disabled') events.push(event('webhook-endpoint.enabled', { endpointId }, endpointId, correlationId))
        if (patch.enabled === false && current.status === 'enabled') {
          events.push(event('webhook-endpoint.disabled', { endpointId, merchantId, reason: 'merchant', detail: 'Disabled through the API.' }, endpointId, correlationId))
        }
        return events
      })
      return state!
    },

    async rotate (merchantId, endpointId, overlapHours, correlationId) {
      const secret = newSigningSecret()
      const state = await decideOn(endpointId, async (s) => {
        const current = owned(s, merchantId, endpointId)
        const version = current.secretVersion + 1
        const inserted = await db.insertInto('wd_endpoint_secrets').values({ endpoint_id: endpointId, version, sealed: box.encrypt(secret) })
          .onConflict((oc) => oc.columns(['endpoint_id', 'version']).doNothing()).returning('version').executeTakeFirst()
        if (inserted === undefined) throw new ServiceError('WEBHOOK_ROTATION_CONFLICT', 409, 'Another rotation of this endpoint\'s secret is under way: try again.')
        return [event('webhook-endpoint.secret-rotated', {
          endpointId, secretVersion: version, previousValidUntil: new Date(Date.now() + overlapHours * 3_600_000).toISOString()
        }, endpointId, correlationId)]
      })
      return { state: state!, secret }
    },

    async remove (merchantId, endpointId, correlationId) {
      await decideOn(endpointId, (s) => {
        owned(s, merchantId, endpointId)
        return [event('webhook-endpoint.deleted', { endpointId }, endpointId, correlationId)]
      })
    },

    async disable (endpointId, reason, detail, failingSince) {
      await decideOn(endpointId, (s) => {
        if (s === undefined || s.status !== 'enabled') return undefined
        return [event('webhook-endpoint.disabled', {
          endpointId, merchantId: s.merchantId, reason, detail: detail.slice(0, 1000), ...(failingSince === undefined ? {} : { failingSince: failingSince.toISOString() })
        }, endpointId, `dispatch-${endpointId}`)]
      })
    }
  }
}
