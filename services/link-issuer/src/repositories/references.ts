import DataLoader from 'dataloader'
import { sql } from 'kysely'
import { paymentLinkStream } from '@paylinks/contracts'
import { takeable, type RidingRenewals, type TurnScheduler } from '../issuing/leases.js'
import type { Db } from '../tables.js'

/** A request's claim on a merchant's reference (and its order id, for orders). */
export interface ReferenceClaim {
  merchantId: string
  reference: string
  linkId: string
  /** The requester's causation id: the same on every retry of one request. */
  requestedBy: string
  orderId?: string
}

/** Who holds a reference (or an order id) for good. */
export interface ReferenceHolder {
  merchantId: string
  reference: string
  linkId: string
  requestedBy: string
  orderId: string | null
}

export type ClaimResult =
  /**
   * The reference is this request's now, and its link has no events: a new link. `generation`:
   * its issue lease, taken in the same statement for this process (see `LeaseTaker`).
   */
  | { claimed: true, generation?: number }
  /** Someone holds the reference, or the order id under another reference: perhaps this request's earlier attempt. */
  | { claimed: false, holder: ReferenceHolder }
  /** Nobody holds it, but its link has events: requested before claims existed. */
  | { claimed: false, legacy: true }

interface HolderRow { merchant_id: string, reference: string, link_id: string, requested_by: string, order_id: string | null }

const holderOf = (row: HolderRow): ReferenceHolder =>
  ({ merchantId: row.merchant_id, reference: row.reference, linkId: row.link_id, requestedBy: row.requested_by, orderId: row.order_id })

/** The holder of the claim's reference, else of its order id; undefined when neither is held. */
export async function findHolder (db: Db, claim: Pick<ReferenceClaim, 'merchantId' | 'reference' | 'orderId'>): Promise<ReferenceHolder | undefined> {
  const row = await db.selectFrom('li_references').select(['merchant_id', 'reference', 'link_id', 'requested_by', 'order_id'])
    .where('merchant_id', '=', claim.merchantId)
    .where((eb) => claim.orderId === undefined ? eb('reference', '=', claim.reference) : eb.or([eb('reference', '=', claim.reference), eb('order_id', '=', claim.orderId)]))
    .orderBy(sql`reference = ${claim.reference}`, 'desc').limit(1).executeTakeFirst()
  return row === undefined ? undefined : holderOf(row)
}

/** Claim a reference whatever its link's events say (a link requested before claims existed); the holder after it. */
export async function claimExisting (db: Db, claim: ReferenceClaim): Promise<ReferenceHolder | undefined> {
  await db.insertInto('li_references')
    .values({ merchant_id: claim.merchantId, reference: claim.reference, link_id: claim.linkId, requested_by: claim.requestedBy, order_id: claim.orderId ?? null, created_at: undefined })
    .onConflict((oc) => oc.doNothing()).execute()
  return await findHolder(db, claim)
}

/**
 * Hand the reference to `requestedBy` when its holder `from` claimed it longer than `olderThanMs`
 * ago and its link still has no event: that request was never published. True when handed over.
 */
export async function takeOverClaim (db: Db, holder: ReferenceHolder, requestedBy: string, olderThanMs: number): Promise<boolean> {
  const { rows } = await sql<{ reference: string }>`
    UPDATE li_references SET requested_by = ${requestedBy}, created_at = now()
    WHERE merchant_id = ${holder.merchantId} AND reference = ${holder.reference} AND requested_by = ${holder.requestedBy}
      AND created_at < now() - ${`${olderThanMs} milliseconds`}::interval
      AND NOT EXISTS (SELECT 1 FROM es_events WHERE stream_id = ${paymentLinkStream(holder.linkId)})
    RETURNING reference`.execute(db)
  return rows.length > 0
}

export interface ReferenceClaims {
  /** Claim the reference (and order id) before its link is requested. */
  claim: (claim: ReferenceClaim) => Promise<ClaimResult>
}

/** Who takes a new link's issue lease with its claim (issuing/leases.ts: the same columns and rule as `take`). */
export interface LeaseTaker {
  owner: string
  ownerLock: () => number
  leaseMs: number
}

/**
 * Reference claims, taken in one statement for every request of one event-loop turn: the hot
 * path costs one round trip for many links rather than one each. With `lease`, the statement
 * also takes the issue lease of each link it claims (a new link is driven at once), so a new
 * link costs one round trip before its `requested` event rather than two. With `renewals`, it
 * also carries the lease confirms of the same turn (issuing/leases.ts `ride`): a link's fence
 * before its outcome shares the round trip of other links' claims instead of costing its own.
 */
export function createReferenceClaims (options: { db: Db, lease?: LeaseTaker, renewals?: () => RidingRenewals | undefined, schedule?: TurnScheduler }): ReferenceClaims {
  const { db } = options
  const lease = options.lease

  async function claimAll (claims: readonly ReferenceClaim[], riding?: RidingRenewals): Promise<ClaimResult[]> {
    try {
      return await claimBatch(claims, riding)
    } catch (error) {
      riding?.settle(error instanceof Error ? error : new Error(String(error)))
      throw error
    }
  }

  async function claimBatch (claims: readonly ReferenceClaim[], riding: RidingRenewals | undefined): Promise<ClaimResult[]> {
    // One claim per reference and per order id goes in; a repeat within the batch waits for the
    // statement and then finds the first as its holder.
    const seen = new Set<string>()
    const firsts: number[] = []
    claims.forEach((c, i) => {
      const keys = [`r\u0000${c.merchantId}\u0000${c.reference}`, ...(c.orderId === undefined ? [] : [`o\u0000${c.merchantId}\u0000${c.orderId}`])]
      if (keys.some((k) => seen.has(k))) return
      for (const k of keys) seen.add(k)
      firsts.push(i)
    })
    const batch = firsts.map((i) => claims[i]!)
    // A link with events but no claim was requested before claims existed: not claimed here, so
    // its real requester (from its events) claims it. The outer SELECT cannot see a rival claim
    // committed while the INSERT waited on it (one snapshot per statement): those are re-read.
    // Riding renewals touch leases of links this process is issuing, never a link claimed here
    // (its reference was claimed before); `leased` skips them anyway, as one statement must not
    // modify a row twice. Their rows come back with n null.
    const { rows } = await sql<Omit<HolderRow, 'link_id'> & { link_id: string | null, n: number | null, claimed: boolean, has_events: boolean, generation: string | number | null }>`
      WITH input AS (
        SELECT * FROM unnest(${batch.map((c) => c.merchantId)}::text[], ${batch.map((c) => c.reference)}::text[],
          ${batch.map((c) => c.linkId)}::text[], ${batch.map((c) => c.requestedBy)}::text[], ${batch.map((c) => c.orderId ?? null)}::text[],
          ${batch.map((c) => paymentLinkStream(c.linkId))}::text[]) WITH ORDINALITY AS i(merchant_id, reference, link_id, requested_by, order_id, stream_id, n)
      ), fresh AS (
        SELECT i.*, EXISTS (SELECT 1 FROM es_events e WHERE e.stream_id = i.stream_id) AS has_events FROM input i
      ), inserted AS (
        INSERT INTO li_references (merchant_id, reference, link_id, requested_by, order_id)
        SELECT merchant_id, reference, link_id, requested_by, order_id FROM fresh WHERE NOT has_events
        ON CONFLICT DO NOTHING
        RETURNING merchant_id, reference
      ), leased AS (${lease === undefined
        ? sql`SELECT NULL::text AS link_id, NULL::bigint AS generation WHERE false`
        : sql`
        INSERT INTO li_issue_leases AS l (link_id, owner, owner_lock, generation, expires_at)
        SELECT f.link_id, ${lease.owner}, ${lease.ownerLock()}, nextval('li_issue_lease_generation'), now() + ${`${lease.leaseMs} milliseconds`}::interval
        FROM inserted ins JOIN fresh f ON f.merchant_id = ins.merchant_id AND f.reference = ins.reference
        ${riding === undefined ? sql`` : sql`WHERE NOT (f.link_id = ANY(${riding.linkIds}::text[]))`}
        ON CONFLICT (link_id) DO UPDATE SET owner = excluded.owner, owner_lock = excluded.owner_lock, generation = excluded.generation, expires_at = excluded.expires_at
        WHERE ${takeable}
        RETURNING l.link_id, l.generation`})${riding === undefined ? sql`` : sql`, renewed AS (${riding.update})`}
      SELECT f.n::int AS n, ins.reference IS NOT NULL AS claimed, f.has_events, le.generation,
        h.merchant_id, h.reference, h.link_id, h.requested_by, h.order_id
      FROM fresh f
      LEFT JOIN inserted ins ON ins.merchant_id = f.merchant_id AND ins.reference = f.reference
      LEFT JOIN leased le ON ins.reference IS NOT NULL AND le.link_id = f.link_id
      LEFT JOIN LATERAL (
        SELECT r.* FROM li_references r
        WHERE r.merchant_id = f.merchant_id AND (r.reference = f.reference OR r.order_id = f.order_id)
        ORDER BY r.reference = f.reference DESC LIMIT 1
      ) h ON ins.reference IS NULL${riding === undefined
        ? sql``
        : sql`
      UNION ALL
      SELECT NULL::int, NULL::boolean, NULL::boolean, NULL::bigint, NULL::text, NULL::text, r.link_id, NULL::text, NULL::text FROM renewed r`}`.execute(db)
    const results: Array<ClaimResult | undefined> = new Array(claims.length)
    const renewedIds = new Set<string>()
    for (const row of rows) {
      if (row.n === null) {
        renewedIds.add(row.link_id!)
        continue
      }
      const i = firsts[row.n - 1]!
      if (row.claimed) results[i] = row.generation === null ? { claimed: true } : { claimed: true, generation: Number(row.generation) }
      else if (row.link_id !== null) results[i] = { claimed: false, holder: holderOf({ ...row, link_id: row.link_id }) }
      else if (row.has_events) results[i] = { claimed: false, legacy: true }
    }
    riding?.settle(renewedIds)
    return await Promise.all(claims.map(async (c, i) => {
      const result = results[i]
      if (result !== undefined) return result
      const holder = await findHolder(db, c)
      // Held a moment ago and gone now cannot be (claims are never deleted); claim it afresh.
      return holder === undefined ? await claimOne(c) : { claimed: false, holder }
    }))
  }

  // The turn's waiting confirms are taken as the batch is dispatched, before its first await.
  const loader = new DataLoader<ReferenceClaim, ClaimResult>(async (claims) => await claimAll(claims, options.renewals?.()), {
    cache: false, maxBatchSize: 500, batchScheduleFn: options.schedule ?? ((dispatch) => { setImmediate(dispatch) })
  })
  const claimOne = async (claim: ReferenceClaim): Promise<ClaimResult> => (await claimAll([claim]))[0]!

  return { claim: async (claim) => await loader.load(claim) }
}
