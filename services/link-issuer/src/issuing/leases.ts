import DataLoader from 'dataloader'
import { sql } from 'kysely'
import type { Db } from '../tables.js'

export interface Leases {
  /** True when this process now holds the link's lease (nobody held it, or theirs expired). */
  take: (linkId: string) => Promise<boolean>
  /** Give the lease back at once: the link is still requested, so another holder may go on. */
  release: (linkId: string) => Promise<void>
  /** The link has its outcome: delete the lease later, in a batch, off the request path. */
  releaseLater: (linkId: string) => void
  /** Deletes the leases still waiting to be deleted; call before closing the database. */
  flush: () => Promise<void>
}

/** Who creates a link's intent at Dojo: one holder at a time, for at most `leaseMs`. */
export function createLeases (options: { db: Db, owner: string, leaseMs: number, log: { warn: (obj: object, msg: string) => void } }): Leases {
  const { db, owner, log } = options

  // Leases are taken in one statement for every request that asks within the same event-loop
  // turn: under load that is one round trip for many links instead of one each.
  const loader = new DataLoader<string, boolean>(async (linkIds) => {
    const unique = [...new Set(linkIds)]
    const { rows } = await sql<{ link_id: string }>`
      INSERT INTO li_issue_leases (link_id, owner, expires_at)
      SELECT id, ${owner}, now() + ${`${options.leaseMs} milliseconds`}::interval FROM unnest(${unique}::text[]) AS id
      ON CONFLICT (link_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE li_issue_leases.expires_at < now()
      RETURNING link_id`.execute(db)
    const taken = new Set(rows.map((r) => r.link_id))
    // The same link asked twice in one turn (two of our own requests): only the first holds it.
    return linkIds.map((id) => taken.delete(id))
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: (dispatch) => { setImmediate(dispatch) } })

  // A lease on a link whose outcome is published protects nothing any more: whoever takes the
  // link up next reads that outcome and stops. So those leases are deleted in batches, off the
  // request path (one query for many links instead of one per link); until then they only make
  // a late duplicate wait for the outcome, which it would find anyway. A crash leaves such rows
  // behind, as a crash while holding a lease always did.
  const done: string[] = []
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()

  async function flush (): Promise<void> {
    clearTimeout(timer)
    timer = undefined
    const ids = done.splice(0)
    if (ids.length === 0) return await flushing
    flushing = flushing.then(async () => {
      await db.deleteFrom('li_issue_leases').where('owner', '=', owner).where('link_id', 'in', ids).execute()
    }).catch((error: unknown) => { log.warn({ err: error, links: ids.length }, 'leases of finished links not deleted (harmless: those links have their outcome)') })
    await flushing
  }

  return {
    take: async (linkId) => await loader.load(linkId),
    async release (linkId) {
      await db.deleteFrom('li_issue_leases').where('link_id', '=', linkId).where('owner', '=', owner).execute()
    },
    releaseLater (linkId) {
      done.push(linkId)
      if (done.length >= 500) void flush()
      else timer ??= setTimeout(() => { void flush() }, 200).unref()
    },
    flush
  }
}
