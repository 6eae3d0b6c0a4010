import { EventStoreErrorCodes, type EventStore } from '@paylinks/event-store'
import type { EventPublisher } from '@paylinks/messaging'
import { LinkErrorCodes, linkError } from './errors.js'

export interface OwnWritesOptions {
  store: EventStore
  publisher: EventPublisher
  /** Longest a read waits for the store to record this process's own last write on its stream. */
  waitMs: number
  /** Streams remembered at once (the oldest go first: long recorded by then). Default 20,000. */
  maxStreams?: number
  /** The position of the last event JetStream has acknowledged on the events stream (any producer). */
  head: () => Promise<number>
}

export interface OwnWrites {
  /** The store, whose `readStream` sees every event this process published on that stream. */
  store: EventStore
  /** The publisher, remembering the position of each event it published, per stream. */
  publisher: EventPublisher
  /** Resolves once the store has recorded `position` (a write another replica answered); 503 past `waitMs`. */
  reach: (position: number) => Promise<void>
  /**
   * Resolves once the store has recorded every event JetStream had acknowledged when it was
   * called: a read that found no link, or one still `requested`, sees a write another replica
   * answered a moment ago without the caller sending its position. 503 past `waitMs`.
   */
  reachHead: () => Promise<void>
}

/**
 * Read-your-own-writes on a stream without waiting at the write: a request is answered as soon
 * as JetStream has acknowledged its events (nothing acknowledged is lost), and a later read of
 * that stream in this process (a GET, a cancel, a retry, a decision's reload) first waits until
 * the store has recorded the last of them. The store notifies each commit (LISTEN), so a read
 * with nothing outstanding costs nothing and one that waits costs no query. A write answered by
 * another replica is reached through its position (`Paylinks-Position`), with `reach`.
 */
export function createOwnWrites (options: OwnWritesOptions): OwnWrites {
  const { store, publisher, waitMs } = options
  const max = options.maxStreams ?? 20_000
  /** streamId → the position of this process's last event on it not yet known recorded. */
  const pending = new Map<string, number>()

  async function reach (position: number): Promise<void> {
    try {
      await store.waitForPosition(position, waitMs)
    } catch (error) {
      if ((error as { code?: string }).code !== EventStoreErrorCodes.timeout) throw error
      throw linkError(LinkErrorCodes.notRecorded, 503, 'The event log has not recorded this write yet; retry shortly.', { position }, error)
    }
  }

  return {
    reach,
    async reachHead () { await reach(await options.head()) },
    publisher: {
      async publish (events, publishOptions) {
        const acks = await publisher.publish(events, publishOptions)
        events.forEach((event, i) => {
          const at = acks[i]!.seq
          if ((pending.get(event.streamId) ?? 0) >= at) return
          pending.delete(event.streamId)
          if (pending.size >= max) pending.delete(pending.keys().next().value!)
          pending.set(event.streamId, at)
        })
        return acks
      }
    },
    store: {
      ...store,
      async readStream (streamId, readOptions) {
        const at = pending.get(streamId)
        if (at !== undefined) {
          await reach(at)
          if (pending.get(streamId) === at) pending.delete(streamId)
        }
        return await store.readStream(streamId, readOptions)
      }
    }
  }
}
