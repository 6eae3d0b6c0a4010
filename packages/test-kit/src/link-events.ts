import { randomBytes } from 'node:crypto'
import { createEventRegistry, domainEvents, paymentLinkStream, type NewEvent } from '@paylinks/contracts'

const registry = createEventRegistry(domainEvents)
// Each as its owner publishes it: the recorder refuses a type from another producer.
const byIssuer = { correlationId: 'test', producer: 'link-issuer' }
const byIngest = { correlationId: 'test', producer: 'webhook-ingest' }
const intent = 'pi_sandbox_abcdefghijklmnopqrstuv'

/** A fresh link id (`lnk_…`). */
export const testLinkId = (): string => `lnk_${randomBytes(12).toString('base64url')}`

/** A link of 25.99 GBP requested and issued, as link-issuer publishes them. */
export function linkFacts (id: string, options: { merchantId: string, reference?: string, orderId?: string, customerEmail?: string }): { requested: NewEvent, issued: NewEvent } {
  const streamId = paymentLinkStream(id)
  return {
    requested: registry.create('payment-link.requested', {
      linkId: id,
      merchantId: options.merchantId,
      reference: options.reference ?? `ref-${id.slice(-8)}`,
      amount: { value: 2599, currencyCode: 'GBP' },
      expiresAt: '2030-01-01T00:00:00.000Z',
      sendEmail: false,
      source: options.orderId === undefined ? 'api' : 'order',
      ...(options.orderId === undefined ? {} : { orderId: options.orderId }),
      ...(options.customerEmail === undefined ? {} : { customer: { id: 'cus_abcdefghijklmnop', plain: { email: options.customerEmail, name: 'Ada Lovelace' } } })
    }, { streamId, metadata: byIssuer }),
    issued: registry.create('payment-link.issued', {
      linkId: id, merchantId: options.merchantId, paymentIntentId: intent, url: `http://127.0.0.1:4010/checkout/${intent}`, expiresAt: '2030-01-01T00:00:00.000Z'
    }, { streamId, metadata: byIssuer })
  }
}

/** Dojo confirmed a status of a `linkFacts` link, as webhook-ingest publishes it. */
export function statusChanged (id: string, from: string, to: string, refundedAmount = 0): NewEvent {
  return registry.create('payment-link.status-changed', {
    linkId: id,
    paymentIntentId: intent,
    from: from as 'issued',
    to: to as 'paid',
    dojoStatus: 'Captured',
    amount: { value: 2599, currencyCode: 'GBP' },
    capturedAmount: 2599,
    refundedAmount,
    source: 'webhook',
    observedAt: new Date().toISOString()
  }, { streamId: paymentLinkStream(id), metadata: byIngest })
}
