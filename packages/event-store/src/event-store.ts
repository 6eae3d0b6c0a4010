import type { Kysely } from 'kysely'
import { isUnreadableEventError, type EventRegistry, type RecordedEvent } from '@paylinks/contracts'
import { createClient, createDatabase } from './database.js'
import { EventStoreError, EventStoreErrorCodes } from './errors.js'
import { headPosition, readAll, readStream, readStreams, type Executor } from './events.js'
import { Notifier } from './notifier.js'

export interface EventStoreOptions {
  /** For the dedicated LISTEN connection (and the pool, when no `db` is given). */
  connectionString: string
  /**
   * The service's own Kysely instance (from `createDatabase`): the store reads through its pool
   * instead of opening one, and leaves it open on `close()` (its owner destroys it).
   */
  db?: Kysely<any>
  /** Pool size, when the store opens its own pool. Default 10. */
  /** When given, events of its types are upcast to their current version as they are read. */
  registry?: EventRegistry<any>
  poolSize?: number
  /** Live readers re-check the table at least this often, notification or not. Default 1000 ms. */
  pollIntervalMs?: number
  applicationName?: string
  log?: { warn: (obj: object, msg: string) => void }
}

export interface SubscribeOptions {
  /** Start after this position (exclusive); 0 reads from the beginning. */
  after: number
  /** Largest batch handed out at once. Default 500. */
  batchSize?: number
  /** Ends the subscription. */
  signal?: AbortSignal
  /**
   * Upcast with the store's registry (default true). An event it cannot read is handed over as
   * stored, never thrown: the reader decides (a store subscriber parks it). False hands over
   * every event as stored, for readers that upcast with a registry of their own.
   */
  upcast?: boolean
  /** While catching up, read the next batch while the consumer handles this one. Default true. */
  readAhead?: boolean
}

export interface EventStore {
  /** The Kysely instance: pass it (or a transaction of it) to the plain functions. */
  db: Executor
  /** The registry events are upcast with as they are read, if any. */
  registry: EventRegistry<any> | undefined
  readStream: (streamId: string, options?: { fromVersion?: number }) => Promise<RecordedEvent[]>
  /**
   * Several streams in one round trip, each in version order (a stream with no events: empty);
   * with `afterVersions`, a stream only past the version given for it.
   */
  readStreams: (streamIds: readonly string[], options?: { afterVersions?: ReadonlyMap<string, number> }) => Promise<Map<string, RecordedEvent[]>>
  readAll: (after: number, limit?: number) => Promise<RecordedEvent[]>
  head: () => Promise<number>
  /**
   * Batches of events after `after`, in log order: first what is stored (catch-up), then new
   * events as they are recorded. While catching up, the next batch is read while the consumer
   * handles this one; never more than that, so a slow consumer is never flooded (back-pressure).
   */
  subscribe: (options: SubscribeOptions) => AsyncGenerator<RecordedEvent[], void, undefined>
  /** Resolve once the store has recorded `position` (read-your-own-write after a publish). */
  waitForPosition: (position: number, timeoutMs?: number) => Promise<void>
  close: () => Promise<void>
}

/**
 * Open the event store: reads and checkpoints through the service's pool (or a pool of its own),
 * and one dedicated LISTEN connection for live reads.
 */
export async function createEventStore (options: EventStoreOptions): Promise<EventStore> {
  const connection = { connectionString: options.connectionString, applicationName: options.applicationName ?? 'event-store' }
  const ownPool = options.db === undefined
  const db = (options.db ?? createDatabase({ ...connection, max: options.poolSize ?? 10, ...(options.log === undefined ? {} : { log: options.log }) })) as Executor
  const notifier = new Notifier(() => createClient(connection), async () => await headPosition(db), options.log)
  await notifier.start()
  const pollIntervalMs = options.pollIntervalMs ?? 1000
  // Types this process knows are upcast to their current version; others pass through as
  // stored (the log may hold types of newer services; readers filter on the types they handle).
  const upcast = (events: RecordedEvent[]): RecordedEvent[] =>
    options.registry === undefined ? events : events.map((e) => options.registry!.has(e.type) ? options.registry!.upcast(e) : e)
  // A live reader must not stall on an event it cannot read: hand it over as stored.
  const upcastOrKeep = (events: RecordedEvent[]): RecordedEvent[] =>
    options.registry === undefined
      ? events
      : events.map((e) => {
        if (!options.registry!.has(e.type)) return e
        try { return options.registry!.upcast(e) } catch (error) { if (isUnreadableEventError(error)) return e; throw error }
      })
  let closed = false

  async function * subscribe (subscription: SubscribeOptions): AsyncGenerator<RecordedEvent[], void, undefined> {
    let position = subscription.after
    const batchSize = subscription.batchSize ?? 500
    const signal = subscription.signal
    // While catching up (a full batch: more is stored), the next batch is read while the consumer
    // applies this one, so the read and the apply overlap. One batch ahead at most: still
    // back-pressure, and nothing is read past what the consumer will ask for next.
    let ahead: { read: Promise<RecordedEvent[]>, seenBeforeRead: number } | undefined
    try {
      while (!closed && signal?.aborted !== true) {
        const { read, seenBeforeRead } = ahead ?? { read: readAll(db, position, batchSize), seenBeforeRead: notifier.latest }
        ahead = undefined
        const batch = await read
        if (batch.length > 0) {
          position = batch[batch.length - 1]!.position
          if (batch.length === batchSize && subscription.readAhead !== false) {
            ahead = { read: readAll(db, position, batchSize), seenBeforeRead: notifier.latest }
            // Observed when awaited (next turn, or below); never an unhandled rejection meanwhile.
            ahead.read.catch(() => {})
          }
          yield subscription.upcast === false ? batch : upcastOrKeep(batch)
          continue
        }
        // Nothing new. Sleep unless a notification arrived while we were reading.
        if (notifier.latest > seenBeforeRead && notifier.latest > position) continue
        await notifier.wait(pollIntervalMs, signal)
      }
    } finally {
      // A consumer that stops mid catch-up: let the read in flight finish before the pool closes.
      await ahead?.read.catch(() => {})
    }
  }

  return {
    db,
    registry: options.registry,
    readStream: async (streamId, opts) => upcast(await readStream(db, streamId, opts)),
    async readStreams (streamIds, opts) {
      const streams = await readStreams(db, streamIds, opts)
      for (const [id, events] of streams) streams.set(id, upcast(events))
      return streams
    },
    readAll: async (after, limit) => upcast(await readAll(db, after, limit)),
    head: async () => await headPosition(db),
    subscribe,
    async waitForPosition (position, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      // While LISTEN is live, notifications alone say when the position is recorded: many
      // concurrent waiters (one per API request) cost no queries. Without it, or after a whole
      // interval without news, the table is asked.
      let ask = !notifier.live
      while (!closed) {
        if (notifier.latest >= position) return
        if (ask && await headPosition(db) >= position) return
        const left = deadline - Date.now()
        if (left <= 0) break
        const seen = notifier.latest
        await notifier.wait(Math.min(left, pollIntervalMs))
        ask = !notifier.live || notifier.latest === seen
      }
      throw new EventStoreError(closed ? EventStoreErrorCodes.closed : EventStoreErrorCodes.timeout,
        closed ? 'event store closed' : `position ${position} was not recorded within ${timeoutMs} ms`)
    },
    async close () {
      if (closed) return
      closed = true
      await notifier.close()
      if (ownPool) await db.destroy()
    }
  }
}
