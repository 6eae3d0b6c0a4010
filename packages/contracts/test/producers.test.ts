import t from 'tap'
import {
  checkProducer, ContractErrorCodes, createEventRegistry, domainEventProducers, domainEvents, is, isUnreadableEventError,
  PaymentLinkIssued, PaymentLinkStatusChanged, type RecordedEvent
} from '../src/index.js'

const event = (type: string, producer?: string) => ({ id: 'e-1', type, metadata: { correlationId: 'c', ...(producer === undefined ? {} : { producer }) } })

t.test('domainEventProducers should name at least one producer for every domain event type', async (t) => {
  t.same(Object.keys(domainEventProducers).sort(), domainEvents.map((d) => d.type).sort())
  for (const [type, producers] of Object.entries(domainEventProducers)) t.ok(producers.length > 0, type)
})

t.test('checkProducer should accept an allowed producer and refuse another, a missing one and an unruled type', async (t) => {
  t.doesNotThrow(() => { checkProducer(domainEventProducers, event('payment-link.status-changed', 'webhook-ingest')) })
  t.throws(() => { checkProducer(domainEventProducers, event('payment-link.status-changed', 'link-issuer')) },
    { code: ContractErrorCodes.producerNotAllowed, message: /names producer 'link-issuer'; allowed: webhook-ingest/ })
  t.throws(() => { checkProducer(domainEventProducers, event('payment-link.issued')) }, { code: ContractErrorCodes.producerNotAllowed, message: /'\(none\)'/ })
  t.throws(() => { checkProducer(domainEventProducers, event('ledger.credited', 'test')) }, { code: ContractErrorCodes.producerNotAllowed, message: /allowed: nobody/ })
  t.throws(() => { checkProducer(domainEventProducers, event('toString', 'test')) }, { code: ContractErrorCodes.producerNotAllowed }, 'no inherited keys')
})

t.test('is should narrow an event to its definition by type', async (t) => {
  const registry = createEventRegistry(domainEvents)
  const issued: RecordedEvent = {
    ...registry.create('payment-link.issued', { linkId: 'lnk_0123456789', merchantId: 'mer_abcdef', paymentIntentId: 'pi_sandbox_0123456789', url: 'https://pay.example/x', expiresAt: '2030-01-01T00:00:00.000Z' }, { streamId: 'payment-link.lnk_0123456789', metadata: { correlationId: 'c' } }),
    position: 1,
    streamVersion: 1,
    recordedAt: '2030-01-01T00:00:00.000Z'
  }
  t.notOk(is(issued, PaymentLinkStatusChanged))
  if (!is(issued, PaymentLinkIssued)) throw new Error('not narrowed')
  const url: string = issued.data.url // compiles only when narrowed
  t.equal(url, 'https://pay.example/x')
})

t.test('isUnreadableEventError should tell unreadable events from other failures by code', async (t) => {
  const registry = createEventRegistry([PaymentLinkIssued])
  const base = { id: '6f1c1a47-9d3c-4f52-8f1a-6c1b7b2f1a10', streamId: 'payment-link.lnk_1', occurredAt: '2026-11-27T12:00:00Z', metadata: { correlationId: 'c' } }
  const errorOf = (fn: () => unknown): unknown => { try { fn(); return undefined } catch (error) { return error } }
  t.ok(isUnreadableEventError(errorOf(() => registry.parse({ ...base, type: 'payment-link.sent', schemaVersion: 1, data: {} }))), 'unknown type')
  t.ok(isUnreadableEventError(errorOf(() => registry.parse({ ...base, type: 'payment-link.issued', schemaVersion: 2, data: {} }))), 'newer version')
  t.ok(isUnreadableEventError(errorOf(() => registry.parse({ ...base, type: 'payment-link.issued', schemaVersion: 1, data: {} }))), 'invalid data')
  t.notOk(isUnreadableEventError(new Error('connection refused')))
  t.notOk(isUnreadableEventError(errorOf(() => registry.parse('nope'))), 'a bad envelope is not the reader\'s to park')
})
