import type { ColumnType, Generated } from 'kysely'

/** es_events: append-only; positions are JetStream sequences. */
export interface EventsTable {
  position: ColumnType<number, number, never>
  event_id: ColumnType<string, string, never>
  stream_id: ColumnType<string, string, never>
  stream_version: ColumnType<number, number, never>
  type: ColumnType<string, string, never>
  schema_version: ColumnType<number, number, never>
  data: ColumnType<Record<string, unknown>, string, never>
  metadata: ColumnType<Record<string, unknown>, string, never>
  occurred_at: ColumnType<Date, string, never>
  recorded_at: ColumnType<Date, never, never>
}

export interface DeadLettersTable {
  position: number
  subject: string
  reason: string
  /** The reason as a stable word (metrics label): see migration 0009. */
  kind: Generated<string>
  body: string
  recorded_at: Generated<Date>
}

/** es_parked_events: events a subscriber could not read, waiting for a replay. */
export interface ParkedEventsTable {
  subscriber: string
  position: number
  event_id: string
  type: string
  schema_version: number
  code: string
  reason: string
  parked_at: Generated<Date>
  replayed_at: Date | null
}

export interface CheckpointsTable {
  name: string
  position: number
  updated_at: Generated<Date>
}

/** The store's tables; services extend it with their own (`Kysely<EventStoreTables & Mine>`). */
export interface EventStoreTables {
  es_events: EventsTable
  es_dead_letters: DeadLettersTable
  es_checkpoints: CheckpointsTable
  es_parked_events: ParkedEventsTable
}
