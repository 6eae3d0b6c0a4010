import type { Transaction } from 'kysely'
import type { EventDefinition, RecordedEventsOf } from '@paylinks/contracts'
import type { ProjectorTables } from '../tables.js'

/** Names one generation's table: `projections.<table>_g<generation>`. */
export type TableNamer = (table: string) => string

/**
 * A read model built from recorded events. Bump `version` when `apply` or the tables change:
 * the runner then rebuilds it from position 0 into a new generation while the old one serves.
 */
export interface Projection<Ds extends EventDefinition = EventDefinition> {
  name: string
  version: number
  /**
   * The events `apply` reads, at the versions this code knows: others only move the
   * checkpoint; one of these it cannot read (a newer version, bad data) is parked.
   */
  events: readonly Ds[]
  /** Base names of this projection's tables (dropped with a retired generation). */
  tables: readonly string[]
  /** SQL creating one generation's tables (without the indexes only reads need). */
  createTables: (t: TableNamer) => string
  /**
   * SQL creating the indexes reads need (IF NOT EXISTS): run once the generation has caught up,
   * in the transaction that makes it active, so a rebuild does not maintain them row by row
   * (building them over the finished tables is one sort each).
   */
  createIndexes: (t: TableNamer) => string
  /** SQL (re)creating the `analytics` views over one generation's tables. */
  createViews: (t: TableNamer) => string
  /** Views to drop before `createViews` (their columns may change between versions). */
  views: readonly string[]
  /** Apply a batch, in log order, in the subscriber's transaction (with its checkpoint). */
  apply (trx: Transaction<ProjectorTables>, events: Array<RecordedEventsOf<Ds>>, t: TableNamer): Promise<void>
}

export const tableNamer = (generation: number): TableNamer => (table) => `projections.${table}_g${generation}`
