import { sql } from 'kysely'
import type { Db } from '../tables.js'

/** A link's count of opens, and whether (and with what) `payment-link.opened` should go out now. */
export interface OpenCount {
  linkId: string
  opens: number
  firstOpenedAt: Date
  /** The count the last published event carried (0: none yet). */
  publishedOpens: number
}

/**
 * Count one open of a link's short URL (migrations/0023). Returns the count with what was last
 * published, and `due`: publish now (the first open, or a count unpublished for `intervalMs`).
 */
export async function countOpen (db: Db, linkId: string, intervalMs: number): Promise<OpenCount & { due: boolean }> {
  const row = await sql<{ opens: number, first_opened_at: Date, published_opens: number, due: boolean }>`
    INSERT INTO li_link_opens (link_id, opens) VALUES (${linkId}, 1)
    ON CONFLICT (link_id) DO UPDATE SET opens = li_link_opens.opens + 1, last_opened_at = now()
    RETURNING opens, first_opened_at, published_opens,
      (published_opens = 0 OR published_at < now() - make_interval(secs => ${intervalMs / 1000})) AS due`.execute(db)
  const r = row.rows[0]!
  return { linkId, opens: r.opens, firstOpenedAt: r.first_opened_at, publishedOpens: r.published_opens, due: r.due }
}

/** The event with `opens` is out: later opens wait for the interval. */
export async function markOpensPublished (db: Db, linkId: string, opens: number): Promise<void> {
  await sql`UPDATE li_link_opens SET published_opens = greatest(published_opens, ${opens}), published_at = now()
    WHERE link_id = ${linkId}`.execute(db)
}

/** Counts not yet published whose last publish (or first open) is older than `intervalMs`: the sweep's. */
export async function unpublishedOpens (db: Db, intervalMs: number, limit = 500): Promise<OpenCount[]> {
  const rows = await sql<{ link_id: string, opens: number, first_opened_at: Date, published_opens: number }>`
    SELECT link_id, opens, first_opened_at, published_opens FROM li_link_opens
    WHERE opens > published_opens AND coalesce(published_at, first_opened_at) < now() - make_interval(secs => ${intervalMs / 1000})
    ORDER BY last_opened_at LIMIT ${limit}`.execute(db)
  return rows.rows.map((r) => ({ linkId: r.link_id, opens: r.opens, firstOpenedAt: r.first_opened_at, publishedOpens: r.published_opens }))
}
