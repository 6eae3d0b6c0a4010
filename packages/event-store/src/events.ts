import { sql, type Kysely, type Selectable } from 'kysely'
import type { NewEvent, RecordedEvent } from '@paylinks/contracts'
import { EventStoreError, EventStoreErrorCodes } from './errors.js'
import type { EventsTable, EventStoreTables } from './tables.js'

/** Any Kysely executor over the store's tables: the pool, a transaction, one connection. */
export type Executor = Kysely<EventStoreTables>

/** An event read off the log at `position` (its JetStream sequence). */
export interface PositionedEvent {
  position: number
  event: NewEvent
}

export interface RecordResult {
  /** The events inserted, with their stream versions. */
  recorded: RecordedEvent[]
  /** Events whose id (or position) the store already had: skipped, forever de-duplicated. */
  skipped: PositionedEvent[]
}

/**
 * Insert a batch in log order, in one statement: events already recorded (same event id, or
 * same position on a redelivery) are skipped; each stream's versions continue from its last
 * without gaps. Call inside the transaction that owns the batch; only the recorder does.
 */
export async function record (db: Executor, batch: PositionedEvent[]): Promise<RecordResult> {
  if (batch.length === 0) return { recorded: [], skipped: [] }
  for (let i = 1; i < batch.length; i++) {
    if (batch[i]!.position <= batch[i - 1]!.position) {
      throw new EventStoreError(EventStoreErrorCodes.outOfOrder, `batch is not in log order at position ${batch[i]!.position}`)
    }
  }
  const rows = batch.map(({ position, event }) => ({
    position,
    event_id: event.id,
    stream_id: event.streamId,
    type: event.type,
    schema_version: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    occurred_at: event.occurredAt
  }))
  // One round trip: the batch travels as one jsonb array. DISTINCT ON keeps the first of an id
  // re-published within the same batch; the scalar sub-select finds each stream's head through
  // the (stream_id, stream_version) index.
  const result = await sql<{ position: number, stream_version: number, recorded_at: Date }>`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS i(
        position bigint, event_id uuid, stream_id text, type text, schema_version integer,
        data jsonb, metadata jsonb, occurred_at timestamptz)
    ), fresh AS (
      SELECT DISTINCT ON (i.event_id) i.* FROM input i
      WHERE NOT EXISTS (SELECT 1 FROM es_events e WHERE e.event_id = i.event_id OR e.position = i.position)
      ORDER BY i.event_id, i.position
    ), numbered AS (
      SELECT f.*, coalesce((SELECT max(e.stream_version) FROM es_events e WHERE e.stream_id = f.stream_id), 0)
        + row_number() OVER (PARTITION BY f.stream_id ORDER BY f.position) AS stream_version
      FROM fresh f
    )
    INSERT INTO es_events (position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at)
    SELECT position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at
    FROM numbered ORDER BY position
    RETURNING position, stream_version, recorded_at`.execute(db)

  const inserted = new Map(result.rows.map((r) => [r.position, r]))
  const recorded: RecordedEvent[] = []
  const skipped: PositionedEvent[] = []
  for (const item of batch) {
    const row = inserted.get(item.position)
    if (row === undefined) skipped.push(item)
    else recorded.push({ ...item.event, position: item.position, streamVersion: row.stream_version, recordedAt: row.recorded_at.toISOString() })
  }
  return { recorded, skipped }
}

/** Keep a message the record refuses, with why (`kind`: a stable word), at its position: nothing is dropped. */
export async function recordDeadLetter (db: Executor, letter: { position: number, subject: string, reason: string, kind?: string, body: string }): Promise<void> {
  await db.insertInto('es_dead_letters').values(letter).onConflict((oc) => oc.column('position').doNothing()).execute()
}

export function toRecordedEvent (row: Selectable<EventsTable>): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    occurredAt: row.occurred_at.toISOString(),
    data: row.data,
    metadata: row.metadata as RecordedEvent['metadata'],
    position: row.position,
    streamVersion: row.stream_version,
    recordedAt: row.recorded_at.toISOString()
  }
}

/** One stream's events in version order, from `fromVersion` (default 1). */
export async function readStream (db: Executor, streamId: string, options: { fromVersion?: number, limit?: number } = {}): Promise<RecordedEvent[]> {
  const rows = await db.selectFrom('es_events').selectAll()
    .where('stream_id', '=', streamId)
    .where('stream_version', '>=', options.fromVersion ?? 1)
    .orderBy('stream_version')
    .limit(options.limit ?? 10_000)
    .execute()
  return rows.map(toRecordedEvent)
}

/**
 * Several streams' events in one round trip, each in version order: a worker deciding on a batch
 * of streams reads them all at once. Every id asked for is a key (an unknown stream: no events).
 * `afterVersions` reads a stream only past the version given for it (a reader that keeps its
 * fold of the earlier events need not read them again).
 */
export async function readStreams (db: Executor, streamIds: readonly string[], options: { afterVersions?: ReadonlyMap<string, number> } = {}): Promise<Map<string, RecordedEvent[]>> {
  const streams = new Map<string, RecordedEvent[]>(streamIds.map((id) => [id, []]))
  if (streams.size === 0) return streams
  const ids = [...streams.keys()]
  const after = options.afterVersions
  const rows = after === undefined
    ? await db.selectFrom('es_events').selectAll()
      .where('stream_id', '=', sql<string>`ANY(${ids}::text[])`)
      .orderBy('stream_id').orderBy('stream_version')
      .execute()
    : (await sql<Selectable<EventsTable>>`
        SELECT e.* FROM unnest(${ids}::text[], ${ids.map((id) => after.get(id) ?? 0)}::int[]) AS s(stream_id, after)
          JOIN es_events e ON e.stream_id = s.stream_id AND e.stream_version > s.after
         ORDER BY e.stream_id, e.stream_version`.execute(db)).rows
  for (const row of rows) streams.get(row.stream_id)!.push(toRecordedEvent(row))
  return streams
}

/** Events after `afterPosition` (exclusive) in log order, at most `limit`. */
export async function readAll (db: Executor, afterPosition: number, limit = 500): Promise<RecordedEvent[]> {
  const rows = await db.selectFrom('es_events').selectAll()
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute()
  return rows.map(toRecordedEvent)
}

/** The highest recorded position (0 for an empty store). */
export async function headPosition (db: Executor): Promise<number> {
  const row = await db.selectFrom('es_events').select((eb) => eb.fn.max('position').as('head')).executeTakeFirst()
  return Number(row?.head ?? 0)
}
