import t from 'tap'
import { credit, natsTestNames, onTeardown, TEST_NATS_URL, testRegistry, until } from '@paylinks/test-kit'
import { connectMessaging, createEventPublisher, ensureStream, MessagingErrorCodes } from '../src/index.js'
import { setupMessaging } from './helpers.js'

t.test('ensureStream should be idempotent and apply a changed window', async (t) => {
  const { names, messaging } = await setupMessaging(t)
  const again = await ensureStream(messaging.jsm, { name: names.stream, subjects: [`${names.subjectPrefix}.>`], maxAgeMs: 60_000, storage: 'memory' })
  t.equal(again.config.max_age, 60_000 * 1e6)
  const longer = await ensureStream(messaging.jsm, { name: names.stream, subjects: [`${names.subjectPrefix}.>`], maxAgeMs: 120_000, storage: 'memory' })
  t.equal(longer.config.max_age, 120_000 * 1e6)
  await t.resolves(Promise.all([1, 2, 3].map(async () => await ensureStream(messaging.jsm, { name: names.stream, subjects: [`${names.subjectPrefix}.>`], maxAgeMs: 120_000 }))), 'racing declarations agree')
})

t.test('publish should answer a re-sent event as a duplicate, not store it twice', async (t) => {
  const { names, messaging, publisher } = await setupMessaging(t)
  const event = credit('ledger.a')
  const [first] = await publisher.publish([event])
  const [second] = await publisher.publish([event])
  t.equal(first?.duplicate, false)
  t.equal(second?.duplicate, true)
  t.equal(second?.seq, first?.seq, 'the duplicate is answered with the original sequence')
  const info = await messaging.jsm.streams.info(names.stream)
  t.equal(info.state.messages, 1)
  const stored = await messaging.jsm.streams.getMessage(names.stream, { seq: first!.seq })
  t.equal(stored?.subject, `${names.subjectPrefix}.ledger.a`, 'one subject per stream')
  t.equal(stored?.header.get('Nats-Msg-Id'), event.id)
  t.equal(stored?.header.get('Event-Type'), 'ledger.credited')
})

t.test('publish with an expected sequence should refuse the loser of a race with MSG_CONCURRENCY', async (t) => {
  const { publisher } = await setupMessaging(t)
  const [opened] = await publisher.publish([credit('ledger.b')], { expectedLastSubjectSequence: 0 })
  const results = await Promise.allSettled([
    publisher.publish([credit('ledger.b')], { expectedLastSubjectSequence: opened!.seq }),
    publisher.publish([credit('ledger.b')], { expectedLastSubjectSequence: opened!.seq })
  ])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one decision lands')
  const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
  t.equal(loser.reason.code, MessagingErrorCodes.concurrency)
  t.match(loser.reason.message, /stream ledger.b moved on/)
  await t.rejects(publisher.publish([credit('ledger.b')], { expectedLastSubjectSequence: 0 }), { code: MessagingErrorCodes.concurrency }, 'a stream that exists is not new')
})

for (const coalesce of [true, false]) {
  t.test(`publish from callers woken by separate callbacks should acknowledge each once (coalesce: ${String(coalesce)})`, async (t) => {
    const { names, messaging, publisher } = await setupMessaging(t, { publisher: { coalesce } })
    // Like HTTP requests: each caller starts in its own callback; coalesced ones share a write.
    const acks = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      await new Promise((resolve) => setImmediate(resolve))
      return (await publisher.publish([credit(`ledger.m${i % 10}`), credit(`ledger.m${i % 10}`)]))
    }))
    const seqs = acks.flat().map((a) => a.seq)
    t.equal(new Set(seqs).size, 400, 'every event has its own sequence')
    t.ok(acks.every(([a, b]) => a!.seq < b!.seq), 'the events of one call land in order')
    t.equal((await messaging.jsm.streams.info(names.stream)).state.messages, 400)
  })
}

t.test('publish should chain expectations through a batch and refuse a batch across streams', async (t) => {
  const { publisher } = await setupMessaging(t)
  const acks = await publisher.publish([credit('ledger.c'), credit('ledger.c'), credit('ledger.c')], { expectedLastSubjectSequence: 0 })
  t.same(acks.map((a) => a.seq), [1, 2, 3])
  await t.rejects(publisher.publish([credit('ledger.c'), credit('ledger.d')], { expectedLastSubjectSequence: 3 }), { code: MessagingErrorCodes.publish })
})

t.test('publish should refuse invalid and unknown events before they leave the process', async (t) => {
  const { names, messaging, publisher } = await setupMessaging(t)
  const event = credit('ledger.e')
  await t.rejects(publisher.publish([{ ...event, data: { amount: { value: 1.5, currencyCode: 'GBP' } } }]), { code: 'CONTRACT_INVALID_DATA' })
  await t.rejects(publisher.publish([{ ...event, type: 'ledger.closed' }]), { code: 'CONTRACT_UNKNOWN_EVENT' })
  t.equal((await messaging.jsm.streams.info(names.stream)).state.messages, 0)
  t.ok(testRegistry.has('ledger.credited'))
})

t.test('publish should fail with MSG_PUBLISH when no stream captures the subject', async (t) => {
  const { messaging } = await setupMessaging(t)
  const lost = createEventPublisher({ js: messaging.js, subjectPrefix: 'nowhere-at-all', registry: testRegistry, timeoutMs: 200, retries: 2, retryDelayMs: 5 })
  await t.rejects(lost.publish([credit('ledger.f')]), { code: MessagingErrorCodes.publish, message: /nowhere-at-all\.ledger\.f/ })
})

t.test('publish with an expected sequence should hold on a subject whose messages the window dropped', async (t) => {
  // A 4 s window: the link's first event is gone from JetStream, as after EVENTS_MAX_AGE_HOURS.
  const names = natsTestNames(t, 'win')
  const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'messaging-window-test', timeoutMs: 2000 })
  onTeardown(t, () => messaging.close())
  await ensureStream(messaging.jsm, { name: names.stream, subjects: [`${names.subjectPrefix}.>`], maxAgeMs: 4000, duplicateWindowMs: 500, storage: 'memory' })
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: names.subjectPrefix, registry: testRegistry, retryDelayMs: 10 })
  const [first] = await publisher.publish([credit('ledger.w')], { expectedLastSubjectSequence: 0 })
  await until(async () => (await messaging.jsm.streams.info(names.stream)).state.messages === 0, { timeoutMs: 20_000, what: 'the window dropped the message' })

  const [second] = await publisher.publish([credit('ledger.w')], { expectedLastSubjectSequence: first!.seq })
  t.ok(second!.seq > first!.seq, 'a decision on the recorded history lands after the window')
  await t.rejects(publisher.publish([credit('ledger.w')], { expectedLastSubjectSequence: first!.seq }), { code: MessagingErrorCodes.concurrency }, 'a decision on a stale history still loses once the subject has a newer message')
  const [third] = await publisher.publish([credit('ledger.w'), credit('ledger.w')], { expectedLastSubjectSequence: second!.seq })
  t.ok(third!.seq > second!.seq)
})
