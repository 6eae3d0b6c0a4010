import { Type } from '@sinclair/typebox'
import { createEventRegistry, defineEvent, MoneySchema, type ProducerRules } from '@paylinks/contracts'

/** A small event vocabulary for infrastructure tests: a ledger that is opened and credited. */
export const LedgerOpened = defineEvent('ledger.opened', Type.Object({ owner: Type.String({ minLength: 1 }) }, { additionalProperties: false }))
export const LedgerCredited = defineEvent('ledger.credited', Type.Object({ amount: MoneySchema, note: Type.Optional(Type.String()) }, { additionalProperties: false }))
export const testRegistry = createEventRegistry([LedgerOpened, LedgerCredited])
/** The producer rule for the test vocabulary: only `test` publishes ledger events. */
export const testProducers: ProducerRules = { [LedgerOpened.type]: ['test'], [LedgerCredited.type]: ['test'] }

let n = 0
/** A valid `ledger.credited` event on the given stream (`ledger.<id>`). */
export function credit (streamId: string, value = 100, correlationId = 'test') {
  n++
  return testRegistry.create('ledger.credited', { amount: { value, currencyCode: 'GBP' }, note: `credit ${n}` }, { streamId, metadata: { correlationId, producer: 'test' } })
}
