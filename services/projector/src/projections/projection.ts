import type { RecordedEvent } from '@paylinks/contracts'
import type { Executor } from '@paylinks/event-store'

/** Names one generation's table: `projections.<table>_g<generation>`. */
export type TableNamer = (table: string) => string

/**
 * A read model built from recorded events. Bump `version` when `apply` or the tables change:
 * the runner then rebuilds it from position 0 into a new generation while the old one serves.
 */
export interface Projection {
  name: string
  version: number
  /** Event types `apply` needs; others only move the checkpoint. */
  types: readonly string[]
  /** Base names of this projection's tables (dropped with a retired generation). */
  tables: readonly string[]
  /** SQL creating one generation's tables. */
  createTables: (t: TableNamer) => string
  /** SQL (re)creating the `analytics` views over one generation's tables. */
  createViews: (t: TableNamer) => string
  /** Views to drop before `createViews` (their columns may change between versions). */
  views: readonly string[]
  /** Apply a batch, in log order, in the subscriber's transaction (with its checkpoint). */
  apply: (trx: Executor, events: RecordedEvent[], t: TableNamer) => Promise<void>
}

export const tableNamer = (generation: number): TableNamer => (table) => `projections.${table}_g${generation}`
