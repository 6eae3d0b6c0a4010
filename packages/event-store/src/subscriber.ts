import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import type { RecordedEvent } from '@paylinks/contracts'
import { readCheckpoint, saveCheckpoint } from './checkpoints.js'
import type { EventStore } from './event-store.js'
import type { Executor } from './events.js'

interface Log {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface StoreSubscriberOptions {
  store: EventStore
  /** The checkpoint's name; also elects one active instance per name (advisory lock). */
  name: string
  /**
   * Apply a batch, in log order. Database effects go through `trx`: they commit with the
   * checkpoint, exactly once. Effects elsewhere (a NATS publish) happen at least once: make them
   * idempotent (the event id is a good message id).
   */
  handle: (trx: Executor, events: RecordedEvent[]) => Promise<void>
  /** Only events of these types are handed to `handle` (the checkpoint still moves). */
  types?: readonly string[]
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
  status: () => { active: boolean, position: number }
}

/** The advisory lock key for a subscriber name: 63 bits of its SHA-256. */
export function lockKeyFor (name: string): bigint {
  return createHash('sha256').update(`paylinks.subscriber.${name}`).digest().readBigInt64BE(0)
}

/**
 * Follow the store from a named checkpoint and apply each batch in one transaction with the
 * checkpoint move. One instance per name is active (a Postgres advisory lock held on the
 * connection that commits); others stand by and take over. A crash mid-batch rolls the batch
 * back with its checkpoint, so nothing is applied twice or skipped.
 */
export function createStoreSubscriber (options: StoreSubscriberOptions): StoreSubscriber {
  const { store, name } = options
  const lockKey = lockKeyFor(name)
  const types = options.types === undefined ? undefined : new Set(options.types)
  const state = { active: false, position: 0 }
  let stopping = false
  let running: Promise<void> | undefined
  const stopController = new AbortController()

  async function lead (conn: Executor): Promise<void> {
    state.position = await readCheckpoint(conn, name)
    state.active = true
    options.log?.info({ subscriber: name, from: state.position }, 'subscriber active')
    try {
      const batchSize = options.batchSize ?? 500
      const lingerMs = options.lingerMs ?? 0
      for await (const batch of store.subscribe({ after: state.position, batchSize, signal: stopController.signal })) {
        const relevant = types === undefined ? batch : batch.filter((e) => types.has(e.type))
        const last = batch[batch.length - 1]!.position
        await conn.transaction().execute(async (trx) => {
          if (relevant.length > 0) await options.handle(trx, relevant)
          await saveCheckpoint(trx, name, state.position, last)
        })
        state.position = last
        if (stopping) break
        if (lingerMs > 0 && batch.length < batchSize) await sleep(lingerMs, undefined, { signal: stopController.signal }).catch(() => {})
      }
    } finally {
      state.active = false
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

  async function loop (): Promise<void> {
    let delay = options.retryDelayMs ?? 500
    while (!stopping) {
      try {
        await runOnce()
      } catch (error) {
        if (stopping) break
        options.log?.error({ err: error, subscriber: name, retryInMs: delay }, 'subscriber failed; starting again')
        await sleep(delay / 2 + Math.random() * delay, undefined, { signal: stopController.signal }).catch(() => {})
        delay = Math.min(delay * 2, 30_000)
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
