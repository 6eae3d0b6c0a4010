import t from 'tap'
import { credit, type TestContext, until } from '@paylinks/test-kit'
import type { JsMsg } from '@nats-io/jetstream'
import { ack, ensureConsumer, nak, startConsumerLoop, term } from '../src/index.js'
import { setupMessaging } from './helpers.js'

async function setupConsumer (t: TestContext, count: number) {
  const ctx = await setupMessaging(t)
  await ctx.publisher.publish(Array.from({ length: count }, (_, i) => credit(`ledger.c${i % 5}`, i + 1)))
  await ensureConsumer(ctx.messaging.jsm, { stream: ctx.names.stream, durable: ctx.names.durable, filterSubject: `${ctx.names.subjectPrefix}.>`, ackWaitMs: 5000 })
  const consumer = await ctx.messaging.js.consumers.get(ctx.names.stream, ctx.names.durable)
  return { ...ctx, consumer }
}

t.test('the consumer loop should handle every message once with at most `concurrency` in flight', async (t) => {
  const { consumer, messaging, names } = await setupConsumer(t, 60)
  let inFlight = 0
  let peak = 0
  const seen: number[] = []
  const loop = await startConsumerLoop({
    consumer,
    concurrency: 4,
    handler: async (msg) => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 2))
      seen.push(msg.seq)
      inFlight--
      return ack()
    }
  })
  await until(() => seen.length === 60)
  await loop.stop()
  t.equal(new Set(seen).size, 60)
  t.ok(peak <= 4, `peak concurrency ${peak} stays within 4`)
  const info = await messaging.jsm.consumers.info(names.stream, names.durable)
  t.equal(info.num_ack_pending, 0)
  t.equal(info.num_pending, 0)
})

t.test('the consumer loop should redeliver after a nak or a thrown error, and give up to onGiveUp', async (t) => {
  const { consumer } = await setupConsumer(t, 3)
  const attempts = new Map<number, number>()
  const gaveUp: number[] = []
  const terminated: number[] = []
  const loop = await startConsumerLoop({
    consumer,
    concurrency: 2,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 20,
    maxAttempts: 3,
    handler: async (msg: JsMsg) => {
      const n = (attempts.get(msg.seq) ?? 0) + 1
      attempts.set(msg.seq, n)
      if (msg.seq === 1) return n < 2 ? nak(10) : ack()
      if (msg.seq === 2) throw new Error('always fails')
      terminated.push(msg.seq)
      return term('cannot ever succeed')
    },
    onGiveUp: async (msg) => { gaveUp.push(msg.seq) }
  })
  await until(() => gaveUp.length === 1 && attempts.get(1) === 2 && terminated.length === 1)
  await new Promise((resolve) => setTimeout(resolve, 100))
  await loop.stop()
  t.equal(attempts.get(1), 2, 'a nak is redelivered once, then acked')
  t.equal(attempts.get(2), 3, 'a failing message is tried maxAttempts times')
  t.same(gaveUp, [2], 'and handed to onGiveUp, not dropped')
  t.equal(attempts.get(3), 1, 'a terminated message is never redelivered')
})

t.test('stop should let in-flight handlers finish and settle before resolving', async (t) => {
  const { consumer, messaging, names } = await setupConsumer(t, 2)
  let finished = 0
  let started = 0
  const loop = await startConsumerLoop({
    consumer,
    concurrency: 2,
    handler: async () => {
      started++
      await new Promise((resolve) => setTimeout(resolve, 200))
      finished++
      return ack()
    }
  })
  await until(() => started === 2)
  await loop.stop()
  t.equal(finished, 2, 'both handlers completed before stop resolved')
  const info = await messaging.jsm.consumers.info(names.stream, names.durable)
  t.equal(info.num_ack_pending, 0, 'and both were acknowledged')
})

t.test('the consumer loop should declare a deleted consumer again and go on', async (t) => {
  const { consumer, messaging, names, publisher } = await setupConsumer(t, 5)
  const seen = new Set<number>()
  const warnings: string[] = []
  const declare = async (): Promise<unknown> => await ensureConsumer(messaging.jsm, { stream: names.stream, durable: names.durable, filterSubject: `${names.subjectPrefix}.>`, ackWaitMs: 5000 })
  const loop = await startConsumerLoop({
    consumer,
    redeclare: declare,
    log: { warn: (_o, m) => { warnings.push(m) }, error: (_o, m) => { warnings.push(m) } },
    handler: async (msg) => { seen.add(msg.seq); return ack() }
  })
  t.teardown(() => loop.stop())
  await until(() => seen.size === 5)
  await messaging.jsm.consumers.delete(names.stream, names.durable)
  await publisher.publish(Array.from({ length: 5 }, (_, i) => credit(`ledger.d${i}`, i + 1)))
  await until(() => seen.size === 10, 20_000, 'messages published after the deletion are handled')
  t.ok(warnings.includes('consumer lost; declaring it again'), 'the loss was reported')
  const info = await messaging.jsm.consumers.info(names.stream, names.durable)
  t.equal(info.num_pending, 0, 'the declared consumer is the one pulled from')
})
