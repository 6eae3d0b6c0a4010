import type { NewEvent } from './envelope.js'
import { ContractError, ContractErrorCodes } from './errors.js'
import type { customerEvents } from './customers.js'
import type { orderEvents } from './orders.js'
import type { paymentLinkEvents } from './payment-links.js'
import type { reusableLinkEvents } from './reusable-links.js'
import type { webhookEndpointEvents } from './webhook-endpoints.js'

/** The services that publish domain events, as they name themselves in `metadata.producer`. */
export const Producers = {
  linkIssuer: 'link-issuer',
  webhookIngest: 'webhook-ingest',
  webhookDispatch: 'webhook-dispatch'
} as const

type DomainEventType = typeof paymentLinkEvents[number]['type'] | typeof orderEvents[number]['type'] | typeof customerEvents[number]['type']
  | typeof webhookEndpointEvents[number]['type'] | typeof reusableLinkEvents[number]['type']

/** Event type -> the producers allowed to publish it. A type without an entry is refused. */
export type ProducerRules = Readonly<Record<string, readonly string[]>>

/**
 * Who may publish each domain event type: the recorder dead-letters an event whose
 * `metadata.producer` is not listed. The producer is self-declared, so this is a real check only
 * together with NATS permissions that let each service's user publish only its own subjects;
 * the recorder adds that an event's type belongs to the category of the subject it came on.
 * The `Record` over every domain type makes a new event type without a rule a compile error.
 */
export const domainEventProducers: Readonly<Record<DomainEventType, readonly string[]>> = {
  'payment-link.requested': [Producers.linkIssuer],
  'payment-link.issued': [Producers.linkIssuer],
  'payment-link.issue-failed': [Producers.linkIssuer],
  'payment-link.sent': [Producers.linkIssuer],
  'payment-link.canceled': [Producers.linkIssuer],
  'payment-link.opened': [Producers.linkIssuer],
  'payment-link.renewed': [Producers.linkIssuer],
  'payment-link.reminded': [Producers.linkIssuer],
  'payment-link.webhook-received': [Producers.webhookIngest],
  'payment-link.status-changed': [Producers.webhookIngest],
  // Money moves: made through our API (link-issuer), or seen at Dojo (webhooks, the reconciler).
  'payment-link.captured': [Producers.linkIssuer, Producers.webhookIngest],
  'payment-link.refunded': [Producers.linkIssuer, Producers.webhookIngest],
  'payment-link.released': [Producers.linkIssuer, Producers.webhookIngest],
  'order.rejected': [Producers.linkIssuer],
  'customer.erased': [Producers.linkIssuer],
  'reusable-link.created': [Producers.linkIssuer],
  'reusable-link.changed': [Producers.linkIssuer],
  'reusable-link.payer-admitted': [Producers.linkIssuer],
  'reusable-link.payer-completed': [Producers.linkIssuer],
  'reusable-link.payer-released': [Producers.linkIssuer],
  'reusable-link.deactivated': [Producers.linkIssuer],
  'webhook-endpoint.created': [Producers.webhookDispatch],
  'webhook-endpoint.updated': [Producers.webhookDispatch],
  'webhook-endpoint.secret-rotated': [Producers.webhookDispatch],
  'webhook-endpoint.disabled': [Producers.webhookDispatch],
  'webhook-endpoint.enabled': [Producers.webhookDispatch],
  'webhook-endpoint.deleted': [Producers.webhookDispatch]
}

/** Throw CONTRACT_PRODUCER_NOT_ALLOWED unless `rules` let `event.metadata.producer` publish its type. */
export function checkProducer (rules: ProducerRules, event: Pick<NewEvent, 'id' | 'type' | 'metadata'>): void {
  const allowed = Object.hasOwn(rules, event.type) ? rules[event.type] : undefined
  const producer = event.metadata.producer
  if (allowed === undefined || producer === undefined || !allowed.includes(producer)) {
    throw new ContractError(ContractErrorCodes.producerNotAllowed,
      `event ${event.id} (${event.type}) names producer '${producer ?? '(none)'}'; allowed: ${allowed?.join(', ') ?? 'nobody'}`)
  }
}
