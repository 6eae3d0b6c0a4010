import { connectMessaging, createEventPublisher, decodeEventMessage, ensureStream, type EventPublisher, type Messaging } from '@paylinks/messaging'
import { createEventStore, record, type EventStore } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { natsTestNames, onTeardown, TEST_NATS_URL, testRegistry, type TestContext } from '@paylinks/test-kit'
import type { NewEvent } from '@paylinks/contracts'

/**
 * A stream and a store of this test's own, and a small recorder between them (the way the
 * event-recorder records: JetStream sequence = position), so decisions reload real state.
 */
export async function setupCommands (t: TestContext): Promise<{ store: EventStore, publisher: EventPublisher, messaging: Messaging, streamId: (label: string) => string }> {
  const names = natsTestNames(t, 'cmd')
  const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'commands-test', timeoutMs: 2000 })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, { name: names.stream, subjects: [`${names.subjectPrefix}.>`], maxAgeMs: 60_000, storage: 'memory' })
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: names.subjectPrefix, registry: testRegistry, retryDelayMs: 10 })
  const { url } = await createMigratedTestDatabase(t)
  const store = await createEventStore({ connectionString: url, registry: testRegistry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())

  const consumer = await messaging.js.consumers.get(names.stream)
  const messages = await consumer.consume()
  const recording = (async () => {
    for await (const msg of messages) {
      const { seq, body } = decodeEventMessage(msg)
      await record(store.db, [{ position: seq, event: body as NewEvent }])
    }
  })()
  onTeardown(t, async () => { await messages.close(); await recording })
  let n = 0
  return { store, publisher, messaging, streamId: (label) => `ledger.${label}${++n}${Date.now().toString(36)}` }
}
