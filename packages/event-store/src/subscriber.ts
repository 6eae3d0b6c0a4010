import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { isUnreadableEventError, type ContractError, type EventDefinition, type EventRegistry, type RecordedEvent } from '@paylinks/contracts'
import { readCheckpoint, saveCheckpoint } from './checkpoints.js'
import type { EventStore } from './event-store.js'
import type { Executor } from './events.js'
import type { EventStoreTables } from './tables.js'
import { parkEvent, type HandledEvent, type HandlerTransaction, type ParkedEvent } from './parked.js'
import { propagatesTraces, withEventSpans } from './tracing.js'

interface Log {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface StoreSubscriberOptions<Ds extends EventDefinition = EventDefinition, DB = EventStoreTables> {
  store: EventStore
  /** The checkpoint's name; also elects one active instance per name (advisory lock). */
  name: string
  /**
   * What this reader can read. Events of `types` are upcast and validated with it before
   * `handle` sees them (typed by it); one it cannot read (a type or version it does not know,
   * data its schema refuses) is parked, not retried. Without it the store's registry upcasts
   * the types it has, and events are handed over as `RecordedEvent`.
   */
  registry?: EventRegistry<Ds>
  /**
   * Apply a batch, in log order. Database effects go through `trx`: they commit with the
   * checkpoint, exactly once. Effects elsewhere (a NATS publish) happen at least once: make them
   * idempotent (the event id is a good message id). A ContractError it throws for an event it
   * cannot read parks that event (the batch is applied again, one event at a time, to find it).
   */
  handle: (trx: HandlerTransaction<DB>, events: Array<NoInfer<HandledEvent<Ds>>>) => Promise<void>
  /** Only events of these types are handed to `handle` (the checkpoint still moves). Default: the registry's types. */
  types?: ReadonlyArray<NoInfer<Ds>['type']>
  /** Called after a parked event's transaction committed (a metric, an alert). */
  onParked?: (parked: ParkedEvent) => void
  batchSize?: number
  /**
   * After a batch smaller than `batchSize`, wait this long before reading the next, so events
   * arriving close together share one transaction (fewer, larger commits under load, at the
   * price of that much more lag). Default 0.
   */
  lingerMs?: number
  standbyPollMs?: number
  retryDelayMs?: number
  log?: Log
}

export interface StoreSubscriber {
  start: () => void
  /** Finish the batch in hand, commit it, let go of the lock. */
  stop: () => Promise<void>
  status: () => { active: boolean, position: number, parked: number }
}

/** The advisory lock key for a subscriber name: 63 bits of its SHA-256. */
export function lockKeyFor (name: string): bigint {
  return createHash('sha256').update(`paylinks.subscriber.${name}`).digest().readBigInt64BE(0)
}

type Item<Ds extends EventDefinition> = { event: HandledEvent<Ds> } | { unreadable: RecordedEvent, error: ContractError }

/**
 * Follow the store from a named checkpoint and apply each batch in one transaction with the
 * checkpoint move. One instance per name is active (a Postgres advisory lock held on the
 * connection that commits); others stand by and take over. A crash mid-batch rolls the batch
 * back with its checkpoint, so nothing is applied twice or skipped. An event the reader cannot
 * read is parked (es_parked_events) in the transaction that moves past it: one bad event never
 * stops a reader. Any other failure retries the batch.
 */
export function createStoreSubscriber<Ds extends EventDefinition = EventDefinition, DB = EventStoreTables> (options: StoreSubscriberOptions<Ds, DB>): StoreSubscriber {
  const { store, name } = options
  const lockKey = lockKeyFor(name)
  const own = options.registry
  const reader: EventRegistry<any> | undefined = own ?? store.registry
  const typeList = options.types ?? own?.types
  const types = typeList === undefined ? undefined : new Set<string>(typeList)
  const state = { active: false, position: 0, parked: 0 }
  let stopping = false
  let running: Promise<void> | undefined
  const stopController = new AbortController()
  const firstDelay = options.retryDelayMs ?? 500
  let delay = firstDelay
  const traced = propagatesTraces()

  function read (event: RecordedEvent): Item<Ds> {
    // Without a registry of its own, a type the store's registry lacks passes as stored (as before).
    if (reader === undefined || (own === undefined && !reader.has(event.type))) return { event: event as HandledEvent<Ds> }
    try {
      return { event: reader.upcast(event) as HandledEvent<Ds> }
    } catch (error) {
      if (!isUnreadableEventError(error)) throw error
      return { unreadable: event, error }
    }
  }

  async function park (trx: Executor, event: RecordedEvent, error: ContractError, parked: ParkedEvent[]): Promise<void> {
    parked.push(await parkEvent(trx, name, event, error))
  }

  function parkedCommitted (parked: ParkedEvent[]): void {
    for (const p of parked) {
      state.parked++
      options.log?.error({ subscriber: name, position: p.position, eventId: p.eventId, type: p.type, schemaVersion: p.schemaVersion, code: p.code, reason: p.reason },
        'event parked: this reader cannot read it (replay it once the reader is upgraded)')
      options.onParked?.(p)
    }
  }

  async function commit (conn: Executor, items: Array<Item<Ds>>, to: number): Promise<void> {
    // With tracing on, each event's trace continues here (a span per event, child of its publisher's).
    if (traced && items.length > 0) await withEventSpans(`apply ${name}`, items.map((item) => 'event' in item ? item.event : item.unreadable), async () => { await transact(conn, items, to) })
    else await transact(conn, items, to)
  }

  async function transact (conn: Executor, items: Array<Item<Ds>>, to: number): Promise<void> {
    const parked: ParkedEvent[] = []
    await conn.transaction().execute(async (trx) => {
      const events: Array<HandledEvent<Ds>> = []
      for (const item of items) {
        if ('event' in item) events.push(item.event)
        else await park(trx, item.unreadable, item.error, parked)
      }
      if (events.length > 0) await options.handle(trx as unknown as HandlerTransaction<DB>, events)
      await saveCheckpoint(trx, name, state.position, to)
    })
    state.position = to
    parkedCommitted(parked)
  }

  /** The handler could not read something in the batch: apply it one event at a time to find what. */
  async function oneByOne (conn: Executor, items: Array<Item<Ds>>, last: number): Promise<void> {
    for (const item of items) {
      const position = 'event' in item ? item.event.position : item.unreadable.position
      try {
        await commit(conn, [item], position)
      } catch (error) {
        if (!isUnreadableEventError(error) || !('event' in item)) throw error
        await commit(conn, [{ unreadable: item.event as RecordedEvent, error }], position)
      }
    }
    if (state.position < last) await commit(conn, [], last)
  }

  async function lead (conn: Executor): Promise<void> {
    state.position = await readCheckpoint(conn, name)
    state.active = true
    delay = firstDelay
    options.log?.info({ subscriber: name, from: state.position }, 'subscriber active')
    const batchSize = options.batchSize ?? 500
    const lingerMs = options.lingerMs ?? 0
    // It reads ahead itself (below): the store's own read-ahead would hold a third batch in memory.
    const batches = store.subscribe({ after: state.position, batchSize, signal: stopController.signal, upcast: false, readAhead: false })
    const nextBatch = async (): Promise<{ batch: RecordedEvent[], items: Array<Item<Ds>> } | undefined> => {
      const next = await batches.next()
      if (next.done === true) return undefined
      const items: Array<Item<Ds>> = []
      for (const event of next.value) if (types === undefined || types.has(event.type)) items.push(read(event))
      return { batch: next.value, items }
    }
    // While catching up (a full batch: more is stored), the next batch is taken and read (upcast,
    // validated) while this one commits: work that would otherwise wait for the commit. Only
    // that one: it is applied after this one commits, or dropped with it (the checkpoint decides).
    let pending: Promise<Awaited<ReturnType<typeof nextBatch>>> | undefined
    try {
      for (;;) {
        const ready = await (pending ?? nextBatch())
        pending = undefined
        if (ready === undefined) break
        const { batch, items } = ready
        const last = batch[batch.length - 1]!.position
        if (batch.length === batchSize && !stopping) {
          pending = nextBatch()
          pending.catch(() => {}) // observed when awaited, or dropped below
        }
        try {
          await commit(conn, items, last)
        } catch (error) {
          if (!isUnreadableEventError(error)) throw error
          await oneByOne(conn, items, last)
        }
        if (stopping) break
        if (pending === undefined && lingerMs > 0 && batch.length < batchSize) await sleep(lingerMs, undefined, { signal: stopController.signal }).catch(() => {})
      }
    } finally {
      state.active = false
      await pending?.catch(() => {})
      await batches.return(undefined)
    }
  }

  async function runOnce (): Promise<void> {
    await store.db.connection().execute(async (conn) => {
      while (!stopping) {
        const { rows } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_lock(${lockKey}::bigint) AS locked`.execute(conn)
        if (rows[0]?.locked === true) break
        await sleep(options.standbyPollMs ?? 1000, undefined, { signal: stopController.signal }).catch(() => {})
      }
      if (stopping) return
      try {
        await lead(conn)
      } finally {
        await sql`SELECT pg_advisory_unlock(${lockKey}::bigint)`.execute(conn).catch(() => {})
      }
    })
  }

  // A failed batch, a lost lock session or Postgres down: start over from the checkpoint. The
  // back-off is bounded (a restarted Postgres is used again within a few seconds) and starts
  // afresh once the subscriber is active again.
  async function loop (): Promise<void> {
    while (!stopping) {
      try {
        await runOnce()
      } catch (error) {
        if (stopping) break
        options.log?.error({ err: error, subscriber: name, retryInMs: delay }, 'subscriber failed; starting again')
        await sleep(delay / 2 + Math.random() * delay, undefined, { signal: stopController.signal }).catch(() => {})
        delay = Math.min(delay * 2, Math.max(firstDelay, 4000))
      }
    }
  }

  return {
    start () { running ??= loop() },
    async stop () {
      stopping = true
      stopController.abort()
      await running
    },
    status: () => ({ ...state })
  }
}
