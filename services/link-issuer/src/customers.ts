import { customerStream, type NewEvent } from '@paylinks/contracts'
import { connectMessaging, createEventPublisher, natsCredentials, type EventsStreamConfig } from '@paylinks/messaging'
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

/**
 * `pnpm admin customer erase`: erase and record over a NATS connection of its own. Instances
 * that remember the customer's key stop using it within CUSTOMER_KEY_CACHE_MS.
 */
export async function eraseFromAdmin (db: Kysely<MerchantTables>, config: EventsStreamConfig, merchantId: string, subject: ErasureSubject): Promise<Erasure | undefined> {
  const messaging = await connectMessaging({ servers: config.NATS_URL, name: 'link-issuer-admin', ...natsCredentials(config) })
  try {
    const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, registry })
    return await eraseAndRecord({ db, publisher }, merchantId, subject, `admin:${new Date().toISOString()}`)
  } finally {
    await messaging.close()
  }
}
