import DataLoader from 'dataloader'
import { sql, type RawBuilder } from 'kysely'
import type { Db } from '../tables.js'
import { INSTANCE_LOCK_CLASS } from './instance.js'

/** A link's issue lease as one holder took it: its generation is never given to another take. */
export interface Lease {
  readonly linkId: string
  readonly generation: number
}

export interface Leases {
  /** The lease, when this process now holds it (nobody held it, theirs expired, or its holder's process is gone). */
  take: (linkId: string) => Promise<Lease | undefined>
  /**
   * A lease taken for this process by another statement (a new link's reference claim takes it
   * in the same statement, repositories/references.ts): held from now on, as if `take` took it.
   */
  adopt: (linkId: string, generation: number) => Lease
  /** False once the heartbeat found the lease taken by another (this holder is fenced). */
  holds: (lease: Lease) => boolean
  /** Renew the lease now: true while it is still this take's. The fence right before an outcome is published. */
  confirm: (lease: Lease) => Promise<boolean>
  /**
   * The confirms waiting for this turn's dispatch, handed to a statement of the same turn that
   * renews them beside its own work (the reference claims: repositories/references.ts), so they
   * cost no round trip of their own; undefined when none waits. Confirms nobody took this way
   * are renewed by a statement of their own.
   */
  ride: () => RidingRenewals | undefined
  /** Give the lease back at once: the link is still requested, so another holder may go on. */
  release: (lease: Lease) => Promise<void>
  /** The link has its outcome: delete the lease later, in a batch, off the request path. */
  releaseLater: (lease: Lease) => void
  /** Deletes the leases still waiting to be deleted; call before closing the database. */
  flush: () => Promise<void>
  /** Stops the heartbeat and flushes. */
  close: () => Promise<void>
}

/** Lease renewals carried by another statement: its CTE `update`, then `settle` with what it renewed. */
export interface RidingRenewals {
  /** A data-modifying CTE's body: UPDATE … RETURNING l.link_id of the leases still this take's. */
  update: RawBuilder<unknown>
  linkIds: string[]
  /** The carrying statement's result: the link ids it renewed, or the error it failed with. */
  settle: (renewed: Set<string> | Error) => void
}

/**
 * Runs dispatches in one setImmediate per event-loop turn, in the order asked. The issue path's
 * batches (reference claims, lease takes and confirms) share one, so the confirms' own statement
 * is sent, after every dispatch of the turn, only if no claim statement carried them.
 */
export type TurnScheduler = (dispatch: () => void) => void

export function createTurnScheduler (): TurnScheduler {
  let queue: Array<() => void> | undefined
  return (dispatch) => {
    if (queue === undefined) {
      const q: Array<() => void> = queue = []
      setImmediate(() => {
        queue = undefined
        for (const run of q) run()
      })
    }
    queue.push(dispatch)
  }
}

export interface LeaseOptions {
  db: Db
  /** This process (a random id). */
  owner: string
  /** This process's instance lock key (see instance.ts), read at each take. */
  ownerLock: () => number
  /** How long a lease lasts without renewal; renewed every third of it while held. */
  leaseMs: number
  log: { warn: (obj: object, msg: string) => void }
  /** How long a confirm waits for a claim statement to carry it (see `ride`). Default 2 ms; 0: only its own turn's. */
  rideMs?: number
  /** Shared with the reference claims (see `ride`). Default: a scheduler of its own. */
  schedule?: TurnScheduler
}

/**
 * SQL true when the lease row `l` may be taken: it expired, or its holder's instance lock is not
 * held by any session (the process died), so a crash frees its leases in about a second.
 */
export const takeable = sql<boolean>`(l.expires_at < now() OR (l.owner_lock IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM pg_locks p
  WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 2
    AND p.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND p.classid = ${INSTANCE_LOCK_CLASS}::oid AND p.objid = l.owner_lock::oid)))`

/** Leases a process left behind: expired, or of a process that is gone. At most `limit`. */
export async function findAbandonedLeases (db: Db, limit: number): Promise<Lease[]> {
  const { rows } = await sql<{ link_id: string, generation: number }>`
    SELECT l.link_id, l.generation FROM li_issue_leases l WHERE ${takeable} LIMIT ${limit}`.execute(db)
  return rows.map((r) => ({ linkId: r.link_id, generation: r.generation }))
}

/** Delete a lease if it is still this take (`generation`): after its link's outcome was found. */
export async function deleteLease (db: Db, lease: Lease): Promise<void> {
  await db.deleteFrom('li_issue_leases').where('link_id', '=', lease.linkId).where('generation', '=', lease.generation).execute()
}

/**
 * Who creates a link's intent at Dojo: one holder at a time. A lease is short (`leaseMs`) and
 * renewed by a heartbeat every third of it while its holder works, so a holder that stops (killed,
 * hung, cut off from Postgres) loses it within `leaseMs`, or at once when its process is gone.
 * Every take has a new generation: the heartbeat and `confirm` renew only that generation, so a
 * holder that lost its lease learns it and does not publish its outcome (see issuer.ts on why a
 * late holder is harmless even when it learns too late).
 */
export function createLeases (options: LeaseOptions): Leases {
  const { db, owner, log } = options
  const ttl = `${options.leaseMs} milliseconds`
  /** linkId → the generation this process holds. */
  const held = new Map<string, number>()

  const schedule = options.schedule ?? createTurnScheduler()

  // Leases are taken in one statement for every request that asks within the same event-loop
  // turn: under load that is one round trip for many links instead of one each.
  const loader = new DataLoader<string, Lease | undefined>(async (linkIds) => {
    const unique = [...new Set(linkIds)]
    const { rows } = await sql<{ link_id: string, generation: number }>`
      INSERT INTO li_issue_leases AS l (link_id, owner, owner_lock, generation, expires_at)
      SELECT id, ${owner}, ${options.ownerLock()}, nextval('li_issue_lease_generation'), now() + ${ttl}::interval FROM unnest(${unique}::text[]) AS id
      ON CONFLICT (link_id) DO UPDATE SET owner = excluded.owner, owner_lock = excluded.owner_lock, generation = excluded.generation, expires_at = excluded.expires_at
      WHERE ${takeable}
      RETURNING link_id, generation`.execute(db)
    const taken = new Map(rows.map((r) => [r.link_id, r.generation]))
    // The same link asked twice in one turn (two of our own requests): only the first holds it.
    return linkIds.map((id) => {
      const generation = taken.get(id)
      if (generation === undefined) return undefined
      taken.delete(id)
      held.set(id, generation)
      return { linkId: id, generation }
    })
  }, { cache: false, maxBatchSize: 500, batchScheduleFn: schedule })

  const renewal = (leases: readonly Lease[]): RawBuilder<unknown> => sql`UPDATE li_issue_leases l SET expires_at = now() + ${ttl}::interval
      FROM unnest(${leases.map((l) => l.linkId)}::text[], ${leases.map((l) => l.generation)}::bigint[]) AS h(link_id, generation)
      WHERE l.link_id = h.link_id AND l.generation = h.generation
      RETURNING l.link_id`

  /** After a renewal: the leases it did not renew are no longer held. */
  function renewed (leases: readonly Lease[], kept: Set<string>): Set<string> {
    for (const lease of leases) if (!kept.has(lease.linkId) && held.get(lease.linkId) === lease.generation) held.delete(lease.linkId)
    return kept
  }

  /** Renew these leases in one statement; the ones still ours. Those not are no longer held. */
  async function renew (leases: readonly Lease[]): Promise<Set<string>> {
    const { rows } = await sql<{ link_id: string }>`${renewal(leases)}`.execute(db)
    return renewed(leases, new Set(rows.map((r) => r.link_id)))
  }

  interface Waiting { lease: Lease, resolve: (kept: boolean) => void, reject: (error: unknown) => void }
  /** Confirms asked this turn: carried by the turn's claim statement (`ride`), else renewed alone after it. */
  let waiting: Waiting[] = []
  const settle = (batch: Waiting[], kept: Set<string> | Error): void => {
    if (kept instanceof Error) for (const w of batch) w.reject(kept)
    else for (const w of batch) w.resolve(kept.has(w.lease.linkId))
  }
  // Confirms no claim statement took in their own turn wait this long for one to come, then
  // go alone: a claim usually follows within a millisecond or two under load, and the fence
  // only needs to come after the create and before the publish.
  const rideMs = options.rideMs ?? 2
  let alone: NodeJS.Timeout | undefined
  function confirmLater (): void {
    if (waiting.length > 0) alone ??= setTimeout(confirmAlone, rideMs)
  }
  function confirmAlone (): void {
    clearTimeout(alone)
    alone = undefined
    if (waiting.length === 0) return
    const batch = waiting
    waiting = []
    renew(batch.map((w) => w.lease)).then((kept) => { settle(batch, kept) }, (error: unknown) => { settle(batch, error instanceof Error ? error : new Error(String(error))) })
  }
  function ride (): RidingRenewals | undefined {
    if (waiting.length === 0) return undefined
    clearTimeout(alone)
    alone = undefined
    const batch = waiting
    waiting = []
    const leases = batch.map((w) => w.lease)
    return {
      update: renewal(leases),
      linkIds: leases.map((l) => l.linkId),
      settle: (result) => { settle(batch, result instanceof Error ? result : renewed(leases, result)) }
    }
  }

  let beating = false
  const heartbeat = setInterval(() => {
    if (beating || held.size === 0) return
    beating = true
    const leases = [...held].map(([linkId, generation]) => ({ linkId, generation }))
    renew(leases)
      .then((kept) => { if (kept.size < leases.length) log.warn({ lost: leases.length - kept.size }, 'issue leases taken over by another holder; their outcomes will not be published from here') })
      // Not renewed (Postgres unreachable): the leases may expire; confirm() fences the outcome.
      .catch((error: unknown) => { log.warn({ err: error, leases: leases.length }, 'issue leases not renewed') })
      .finally(() => { beating = false })
  }, Math.max(50, Math.floor(options.leaseMs / 3)))
  heartbeat.unref()

  // A lease on a link whose outcome is published protects nothing any more: whoever takes the
  // link up next reads that outcome and stops. So those leases are deleted in batches, off the
  // request path (one query for many links instead of one per link); until then they only make
  // a late duplicate wait for the outcome, which it would find anyway. A crash leaves such rows
  // behind; the takeover sweep deletes them once their holder is gone.
  const done: Lease[] = []
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()

  async function flush (): Promise<void> {
    clearTimeout(timer)
    timer = undefined
    const leases = done.splice(0)
    if (leases.length === 0) return await flushing
    flushing = flushing.then(async () => {
      await sql`DELETE FROM li_issue_leases l USING unnest(${leases.map((l) => l.linkId)}::text[], ${leases.map((l) => l.generation)}::bigint[]) AS d(link_id, generation)
        WHERE l.link_id = d.link_id AND l.generation = d.generation`.execute(db)
    }).catch((error: unknown) => { log.warn({ err: error, links: leases.length }, 'leases of finished links not deleted (harmless: those links have their outcome)') })
    await flushing
  }

  const forget = (lease: Lease): void => { if (held.get(lease.linkId) === lease.generation) held.delete(lease.linkId) }

  return {
    take: async (linkId) => await loader.load(linkId),
    adopt (linkId, generation) {
      held.set(linkId, generation)
      return { linkId, generation }
    },
    holds: (lease) => held.get(lease.linkId) === lease.generation,
    async confirm (lease) {
      if (held.get(lease.linkId) !== lease.generation) return false
      return await new Promise<boolean>((resolve, reject) => {
        waiting.push({ lease, resolve, reject })
        // After every dispatch of the turn (a claim statement may have taken them by then).
        if (waiting.length === 1) schedule(() => { queueMicrotask(rideMs === 0 ? confirmAlone : confirmLater) })
      })
    },
    ride,
    async release (lease) {
      forget(lease)
      await deleteLease(db, lease)
    },
    releaseLater (lease) {
      forget(lease)
      done.push(lease)
      if (done.length >= 500) void flush()
      else timer ??= setTimeout(() => { void flush() }, 200).unref()
    },
    flush,
    async close () {
      clearInterval(heartbeat)
      await flush()
    }
  }
}
