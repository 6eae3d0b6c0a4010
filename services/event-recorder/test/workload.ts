import { setTimeout as sleep } from 'node:timers/promises'
import type { RecordedEvent } from '@paylinks/contracts'
import type { EventStore } from '@paylinks/event-store'
import { MessagingErrorCodes, type EventPublisher } from '@paylinks/messaging'
import { credit } from '@paylinks/test-kit'

/** What a publisher saw acknowledged: event id -> JetStream sequence. */
export type Acks = Map<string, number>

/** Publish `count` events, one at a time, spread over `streams` streams, without expectations. */
export async function freePublisher (publisher: EventPublisher, acks: Acks, options: { prefix: string, count: number, streams: number, stop?: () => boolean }): Promise<void> {
  for (let i = 0; i < options.count && options.stop?.() !== true; i++) {
    const [ack] = await publisher.publish([credit(`ledger.${options.prefix}${i % options.streams}`, i + 1)])
    acks.set(ack!.eventId, ack!.seq)
  }
}

/**
 * Decide on a stream's state as the store has it, publish with that expected sequence, and on a
 * conflict (a racer won, or the recorder is behind) reload and decide again: the service pattern.
 */
export async function racingPublisher (publisher: EventPublisher, store: EventStore, acks: Acks, options: { streamId: string, count: number }): Promise<{ conflicts: number }> {
  let conflicts = 0
  for (let i = 0; i < options.count; i++) {
    for (;;) {
      const history = await store.readStream(options.streamId)
      const expected = history.at(-1)?.position ?? 0
      try {
        const [ack] = await publisher.publish([credit(options.streamId, history.length + 1)], { expectedLastSubjectSequence: expected })
        acks.set(ack!.eventId, ack!.seq)
        break
      } catch (error) {
        if ((error as { code?: string }).code !== MessagingErrorCodes.concurrency) throw error
        conflicts++
        await sleep(2 + Math.random() * 5)
      }
    }
  }
  return { conflicts }
}

/** Follow the store from the start, collecting every event read, until `done()` says stop. */
export function follow (store: EventStore): { read: RecordedEvent[], stop: () => Promise<void> } {
  const read: RecordedEvent[] = []
  const controller = new AbortController()
  const running = (async () => {
    for await (const batch of store.subscribe({ after: 0, batchSize: 200, signal: controller.signal })) read.push(...batch)
  })()
  return { read, stop: async () => { controller.abort(); await running } }
}

/** Every acknowledged event exactly once, at its acknowledged sequence, in log order, gapless versions. */
export function checkLog (t: { equal: Function, same: Function, ok: Function }, acks: Acks, read: RecordedEvent[], stored: RecordedEvent[]): void {
  t.equal(read.length, acks.size, 'the reader saw as many events as were acknowledged')
  t.same(read.map((e) => e.position), stored.map((e) => e.position), 'the reader saw exactly what is stored, in the same order')
  t.equal(new Set(read.map((e) => e.id)).size, read.length, 'no event twice')
  const wrong = read.filter((e) => acks.get(e.id) !== e.position)
  t.same(wrong.map((e) => e.id), [], 'each event sits at the sequence its publish was acknowledged with')
  t.ok(read.every((e, i) => i === 0 || e.position > read[i - 1]!.position), 'positions strictly increase')
  const versions = new Map<string, number>()
  let gaps = 0
  for (const e of read) {
    const expected = (versions.get(e.streamId) ?? 0) + 1
    if (e.streamVersion !== expected) gaps++
    versions.set(e.streamId, e.streamVersion)
  }
  t.equal(gaps, 0, 'stream versions count up without gaps')
}
