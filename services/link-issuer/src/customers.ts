import { customerStream, type NewEvent } from '@paylinks/contracts'
import { eraseCustomer, type CustomerKeys, type Erasure, type ErasureSubject, type MerchantTables } from '@paylinks/merchants'
import type { EventPublisher } from '@paylinks/messaging'
import type { Kysely } from 'kysely'
import { PRODUCER } from './issuing/decisions.js'
import { registry, uuidFrom } from './link.js'

/** The `customer.erased` fact of one erased customer; its id follows from the customer, so a repeated erasure records it once. */
export function customerErasedEvent (merchantId: string, customerId: string, erasure: Erasure, correlationId: string): NewEvent {
  return registry.create('customer.erased', { customerId, merchantId, erasedAt: erasure.erasedAt.toISOString(), links: erasure.links }, {
    id: uuidFrom(`customer.erased\u0000${customerId}`),
    streamId: customerStream(customerId),
    metadata: { correlationId, producer: PRODUCER }
  })
}

/**
 * Erase a merchant's customer: destroy its key (this replica forgets it at once, others within
 * their key cache), then record `customer.erased`. Undefined when the merchant has no such
 * customer. The key is gone before the publish: if the publish fails, erasing again records it.
 */
export async function eraseAndRecord (
  options: { db: Kysely<MerchantTables>, publisher: EventPublisher, customers?: CustomerKeys },
  merchantId: string,
  subject: ErasureSubject,
  correlationId: string
): Promise<Erasure | undefined> {
  const erasure = await eraseCustomer(options.db, merchantId, subject)
  if (erasure === undefined) return undefined
  options.customers?.forget(erasure.customerIds)
  await options.publisher.publish(erasure.customerIds.map((id) => customerErasedEvent(merchantId, id, erasure, correlationId)))
  return erasure
}
