export { stringFormats } from './formats.js'
export * from './primitives.js'
export * from './envelope.js'
export * from './errors.js'
export * from './registry.js'
export * from './payment-links.js'
export * from './orders.js'
export * from './integration.js'
export * from './producers.js'
export * from './customers.js'
export * from './webhook-endpoints.js'

import { customerEvents } from './customers.js'
import { orderEvents } from './orders.js'
import { paymentLinkEvents } from './payment-links.js'
import { webhookEndpointEvents } from './webhook-endpoints.js'
/** Every domain event type: build a process's registry from these. */
export const domainEvents = [...paymentLinkEvents, ...orderEvents, ...customerEvents, ...webhookEndpointEvents] as const
