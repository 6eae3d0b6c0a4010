import { natsTestNames, onTeardown, TEST_NATS_URL, testRegistry, type TestContext } from '@paylinks/test-kit'
import { connectMessaging, createEventPublisher, ensureStream, type Messaging, type PublisherOptions } from '../src/index.js'

/** A connection, a stream of this test's own, and a publisher onto it; all closed at teardown. */
export async function setupMessaging (t: TestContext, options: { duplicateWindowMs?: number, publisher?: Partial<PublisherOptions> } = {}) {
  const names = natsTestNames(t, 'msg')
  const messaging: Messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'messaging-test', timeoutMs: 2000 })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, {
    name: names.stream,
    subjects: [`${names.subjectPrefix}.>`],
    maxAgeMs: 60_000,
    storage: 'memory',
    ...(options.duplicateWindowMs === undefined ? {} : { duplicateWindowMs: options.duplicateWindowMs })
  })
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: names.subjectPrefix, registry: testRegistry, retryDelayMs: 10, ...options.publisher })
  return { names, messaging, publisher }
}
