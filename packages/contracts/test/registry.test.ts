import t from 'tap'
import { Type } from '@sinclair/typebox'
import { ContractErrorCodes, createEventRegistry, defineEvent, MoneySchema, type NewEvent } from '../src/index.js'

const Issued = defineEvent('payment-link.issued', Type.Object({
  url: Type.String(),
  amount: MoneySchema
}, { additionalProperties: false }), {
  version: 2,
  // v1 stored the amount as a bare number of pence.
  upcasters: { 1: (data) => ({ url: data.url, amount: { value: data.pence, currencyCode: 'GBP' } }) }
})
const registry = createEventRegistry([Issued])
const metadata = { correlationId: 'c-1' }

t.test('create should build a valid event at the current version', async (t) => {
  const event = registry.create('payment-link.issued', { url: 'https://x', amount: { value: 1050, currencyCode: 'GBP' } }, { streamId: 'payment-link.lnk_1', metadata })
  t.equal(event.schemaVersion, 2)
  t.match(event.id, /^[0-9a-f-]{36}$/)
  t.equal(event.data.amount.value, 1050)
})

t.test('parse should upcast old versions and leave the stored object alone', async (t) => {
  const old: NewEvent = {
    id: '6f1c1a47-9d3c-4f52-8f1a-6c1b7b2f1a10',
    type: 'payment-link.issued',
    schemaVersion: 1,
    streamId: 'payment-link.lnk_1',
    occurredAt: '2026-11-27T12:00:00.000Z',
    data: { url: 'https://x', pence: 250 },
    metadata
  }
  const parsed = registry.parse(old)
  t.equal(parsed.schemaVersion, 2)
  t.same(parsed.data, { url: 'https://x', amount: { value: 250, currencyCode: 'GBP' } })
  t.same(old.data, { url: 'https://x', pence: 250 }, 'the original is not rewritten')
})

t.test('parse should refuse unknown types, newer versions, bad envelopes and bad data with clear errors', async (t) => {
  const base = { id: '6f1c1a47-9d3c-4f52-8f1a-6c1b7b2f1a10', schemaVersion: 1, streamId: 'payment-link.lnk_1', occurredAt: '2026-11-27T12:00:00Z', metadata }
  t.throws(() => registry.parse({ ...base, type: 'payment-link.vanished', data: {} }),
    { code: ContractErrorCodes.unknownEvent, message: /unknown event type 'payment-link.vanished' \(known: payment-link.issued\)/ })
  t.throws(() => registry.parse({ ...base, type: 'payment-link.issued', schemaVersion: 3, data: {} }),
    { code: ContractErrorCodes.unsupportedVersion, message: /reads up to v2/ })
  t.throws(() => registry.parse({ ...base, streamId: 'no dots here', type: 'payment-link.issued', data: {} }),
    { code: ContractErrorCodes.invalidEnvelope, message: /\/streamId/ })
  t.throws(() => registry.parse({ ...base, type: 'payment-link.issued', schemaVersion: 2, data: { url: 'https://x', amount: { value: 10.5, currencyCode: 'GBP' } } }),
    { code: ContractErrorCodes.invalidData, message: /\/amount\/value: Expected integer/ })
  t.throws(() => registry.parse('{"not":"an object"}'), { code: ContractErrorCodes.invalidEnvelope })
})

t.test('defineEvent should refuse a version with a missing upcaster, and the registry a type defined twice', async (t) => {
  t.throws(() => defineEvent('a.b', Type.Object({}), { version: 2 }), /no upcaster from v1/)
  t.throws(() => createEventRegistry([Issued, Issued]), /defined twice/)
})
