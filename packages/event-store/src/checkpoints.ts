import { EventStoreError, EventStoreErrorCodes } from './errors.js'
import type { Executor } from './events.js'

/** A consumer's checkpoint: the last position whose effects are committed (0 when new). */
export async function readCheckpoint (db: Executor, name: string): Promise<number> {
  const row = await db.selectFrom('es_checkpoints').select('position').where('name', '=', name).executeTakeFirst()
  return row?.position ?? 0
}

/**
 * Move a checkpoint from `expected` to `position`, in the caller's transaction with the effects
 * it covers. If it is no longer at `expected`, another runner got there first: ES_CHECKPOINT_CONFLICT,
 * and the caller's transaction (effects included) must roll back.
 */
export async function saveCheckpoint (db: Executor, name: string, expected: number, position: number): Promise<void> {
  const result = expected === 0
    ? await db.insertInto('es_checkpoints').values({ name, position })
      .onConflict((oc) => oc.column('name').doUpdateSet({ position, updated_at: new Date() }).where('es_checkpoints.position', '=', 0))
      .executeTakeFirst()
    : await db.updateTable('es_checkpoints').set({ position, updated_at: new Date() })
      .where('name', '=', name).where('position', '=', expected)
      .executeTakeFirst()
  const changed = 'numInsertedOrUpdatedRows' in result ? result.numInsertedOrUpdatedRows : result.numUpdatedRows
  if (changed !== 1n) {
    throw new EventStoreError(EventStoreErrorCodes.checkpointConflict, `checkpoint ${name} is no longer at ${expected}: another runner moved it`)
  }
}
