import type { Transaction } from 'kysely'
import { isUnreadableEventError, type ContractError, type EventDefinition, type EventRegistry, type RecordedEvent, type RecordedEventsOf } from '@paylinks/contracts'
import { toRecordedEvent, type Executor } from './events.js'
import type { EventStoreTables } from './tables.js'

/** What a handler is given: typed events when the subscriber has a registry, stored ones otherwise. */
export type HandledEvent<Ds extends EventDefinition> = EventDefinition extends Ds ? RecordedEvent : RecordedEventsOf<Ds>

/**
 * A handler's transaction, typed by the tables the handler declares (`Transaction<MyTables>`):
 * it is the store's transaction, so the store's tables are there too.
 */
export type HandlerTransaction<DB> = Transaction<DB>

/** An event a subscriber could not read, kept until a replay applies it. */
export interface ParkedEvent {
  subscriber: string
  position: number
  eventId: string
  type: string
  schemaVersion: number
  /** The ContractError code: CONTRACT_UNKNOWN_EVENT, CONTRACT_UNSUPPORTED_VERSION or CONTRACT_INVALID_DATA. */
  code: string
  reason: string
  parkedAt?: string
  replayedAt?: string | null
}

/** Park `event` for `subscriber`, in the transaction that moves its checkpoint past it. */
export async function parkEvent (db: Executor, subscriber: string, event: RecordedEvent, error: ContractError): Promise<ParkedEvent> {
  const parked: ParkedEvent = { subscriber, position: event.position, eventId: event.id, type: event.type, schemaVersion: event.schemaVersion, code: error.code, reason: error.message.slice(0, 2000) }
  await db.insertInto('es_parked_events').values({
    subscriber, position: parked.position, event_id: parked.eventId, type: parked.type, schema_version: parked.schemaVersion, code: parked.code, reason: parked.reason, replayed_at: null
  }).onConflict((oc) => oc.columns(['subscriber', 'position']).doNothing()).execute()
  return parked
}

/** Parked events, oldest first: of one subscriber (or all), waiting for a replay unless `all`. */
export async function listParked (db: Executor, options: { subscriber?: string, all?: boolean, limit?: number } = {}): Promise<ParkedEvent[]> {
  let query = db.selectFrom('es_parked_events').selectAll()
  if (options.subscriber !== undefined) query = query.where('subscriber', '=', options.subscriber)
  if (options.all !== true) query = query.where('replayed_at', 'is', null)
  const rows = await query.orderBy('subscriber').orderBy('position').limit(options.limit ?? 1000).execute()
  return rows.map((r) => ({
    subscriber: r.subscriber,
    position: r.position,
    eventId: r.event_id,
    type: r.type,
    schemaVersion: r.schema_version,
    code: r.code,
    reason: r.reason,
    parkedAt: r.parked_at.toISOString(),
    replayedAt: r.replayed_at?.toISOString() ?? null
  }))
}

/** Waiting parked events per subscriber (for metrics and status). */
export async function countParked (db: Executor): Promise<Record<string, number>> {
  const rows = await db.selectFrom('es_parked_events').select((eb) => ['subscriber', eb.fn.countAll<string>().as('n')])
    .where('replayed_at', 'is', null).groupBy('subscriber').execute()
  return Object.fromEntries(rows.map((r) => [r.subscriber, Number(r.n)]))
}

export interface ReplayOptions<Ds extends EventDefinition, DB> {
  /** The upgraded reader's registry: what it can read now. */
  registry: EventRegistry<Ds>
  /** The subscriber's handler: applied to one parked event at a time, in position order. */
  apply: (trx: HandlerTransaction<DB>, events: Array<NoInfer<HandledEvent<Ds>>>) => Promise<void>
}

export interface ReplayResult {
  replayed: ParkedEvent[]
  /** Still unreadable with this registry: left parked. */
  stillParked: ParkedEvent[]
}

/**
 * Apply `subscriber`'s parked events with an upgraded reader, oldest first, each in its own
 * transaction with its `replayed_at` (exactly once, also beside a running subscriber or another
 * replay). The reader meets them after later events: its handler must tolerate that (a link's
 * status only moves forward, rows keyed by position are idempotent). Events the registry still
 * cannot read stay parked; other failures throw.
 */
export async function replayParked<Ds extends EventDefinition, DB = EventStoreTables> (db: Executor, subscriber: string, options: ReplayOptions<Ds, DB>): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], stillParked: [] }
  for (const parked of await listParked(db, { subscriber, limit: 100_000 })) {
    const row = await db.selectFrom('es_events').selectAll().where('position', '=', parked.position).executeTakeFirst()
    if (row === undefined) throw new Error(`parked event at ${parked.position} is not in the store`)
    let event: HandledEvent<Ds>
    try {
      event = options.registry.upcast(toRecordedEvent(row)) as HandledEvent<Ds>
    } catch (error) {
      if (!isUnreadableEventError(error)) throw error
      result.stillParked.push({ ...parked, code: error.code, reason: error.message })
      continue
    }
    const done = await db.transaction().execute(async (trx) => {
      const claimed = await trx.updateTable('es_parked_events').set({ replayed_at: new Date() })
        .where('subscriber', '=', subscriber).where('position', '=', parked.position).where('replayed_at', 'is', null)
        .executeTakeFirst()
      if (claimed.numUpdatedRows !== 1n) return false // another replay got there first
      await options.apply(trx as unknown as HandlerTransaction<DB>, [event])
      return true
    }).catch((error: unknown) => {
      if (!isUnreadableEventError(error)) throw error
      result.stillParked.push({ ...parked, code: error.code, reason: error.message })
      return false
    })
    if (done) result.replayed.push(parked)
  }
  return result
}
