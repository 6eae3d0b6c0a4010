import { sql, type Kysely, type Transaction } from 'kysely'
import type { Tables } from './tables.js'

interface Log {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface ReconcilerOptions {
  db: Kysely<Tables>
  quietAfterMs: number
  maxIntervalMs: number
  intervalMs: number
  batch: number
  log: Log
  /** Called after a run queued checks: wake the confirmation worker. */
  onQueued?: (count: number) => void
  onRun?: (queued: number) => void
}

export interface Reconciler {
  /** Mark every unsettled link due (start-up: webhooks may have been lost while we were down), then run every interval. */
  start: () => Promise<void>
  /** Queue a Dojo check for up to `batch` quiet links; returns how many. */
  runOnce: () => Promise<number>
  stop: () => Promise<void>
}

/**
 * The reconciler: links with no settled status whose check is due are queued for the same
 * confirmation a webhook gets (source `reconciler`). After each check a link's next one backs
 * off, doubling from RECONCILE_QUIET_AFTER_MS up to RECONCILE_MAX_INTERVAL_MS, and comes just
 * after `expiresAt` if sooner; a status change starts the quiet period again.
 */
export function createReconciler (options: ReconcilerOptions): Reconciler {
  const { db, log } = options
  let timer: NodeJS.Timeout | undefined
  let current: Promise<unknown> = Promise.resolve()
  let stopped = false

  async function runOnce (): Promise<number> {
    // One owner per run across replicas: the others skip this round (the lock ends with the
    // transaction, or with the session of a replica that died holding it).
    const queued = await db.transaction().execute(async (trx) => {
      const { rows: lock } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(hashtext('webhook-ingest.reconciler')) AS locked`.execute(trx)
      if (lock[0]?.locked !== true) return undefined
      return await queueDue(trx)
    })
    if (queued === undefined) return 0
    options.onRun?.(queued)
    if (queued > 0) {
      log.info({ queued }, 'reconciler queued quiet links for a check')
      options.onQueued?.(queued)
    }
    return queued
  }

  async function queueDue (trx: Transaction<Tables>): Promise<number> {
    const { rows } = await sql<{ n: number }>`
      WITH due AS (
        SELECT payment_intent_id FROM wi_links
         WHERE NOT settled AND next_check_at <= now()
         ORDER BY next_check_at LIMIT ${options.batch} FOR UPDATE SKIP LOCKED
      ), moved AS (
        UPDATE wi_links l
           SET checks = l.checks + 1,
               next_check_at = LEAST(
                 now() + make_interval(secs => LEAST(${options.quietAfterMs / 1000}::float8 * power(2, LEAST(l.checks, 30)), ${options.maxIntervalMs / 1000}::float8)),
                 CASE WHEN l.expires_at > now() THEN l.expires_at + interval '5 seconds' ELSE 'infinity'::timestamptz END)
          FROM due WHERE l.payment_intent_id = due.payment_intent_id
        RETURNING l.payment_intent_id, l.link_id
      ), queued AS (
        INSERT INTO wi_confirmations (key, payment_intent_id, source, correlation_id, received_at)
        SELECT 'reconcile:' || payment_intent_id, payment_intent_id, 'reconciler', 'reconcile:' || link_id, now() FROM moved
        ON CONFLICT (key) DO NOTHING
        RETURNING 1
      )
      SELECT count(*)::int AS n FROM queued`.execute(trx)
    return rows[0]?.n ?? 0
  }

  function schedule (): void {
    if (stopped) return
    timer = setTimeout(() => {
      current = runOnce().catch((error: unknown) => { log.error({ err: error }, 'reconciler run failed') }).finally(schedule)
    }, options.intervalMs)
  }

  return {
    runOnce,
    async start () {
      await db.updateTable('wi_links').set({ next_check_at: new Date() }).where('settled', '=', false).execute()
      current = runOnce().catch((error: unknown) => { log.error({ err: error }, 'reconciler run failed') })
      await current
      schedule()
    },
    async stop () {
      stopped = true
      clearTimeout(timer)
      await current
    }
  }
}
