import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import type { SecretBox } from '@paylinks/merchants'
import type { Sender, SendResult } from './sender.js'
import { webhookHeaders } from './signing.js'
import type { Db, DeliveriesTable } from './tables.js'
import type { Selectable } from 'kysely'

type Delivery = Selectable<DeliveriesTable>

export interface WorkerOptions {
  db: Db
  sender: Sender
  box: SecretBox
  /** This process's name in leases and the attempt log. */
  owner: string
  /** Delay before each attempt, the first included (ms). */
  schedule: number[]
  jitter: number
  leaseMs: number
  pollMs: number
  concurrency: number
  endpointConcurrency: number
  batch: number
  /** An endpoint failing at least this long when a delivery exhausts the schedule is disabled. */
  disableAfterFailingMs: number
  disable: (endpointId: string, reason: 'failing' | 'gone', detail: string, failingSince?: Date) => Promise<void>
  onAttempt?: (outcome: 'delivered' | 'retry' | 'failed' | 'refused', result: SendResult, delivery: Delivery) => void
  log: { info: (o: object, m: string) => void, warn: (o: object, m: string) => void, error: (o: object, m: string) => void }
}

export interface Worker {
  start: () => void
  /** Look for due deliveries now (a NOTIFY arrived). */
  wake: () => void
  stop: () => Promise<void>
}

/** The delay before attempt `n + 1` (after `n` attempts), jittered; undefined once the schedule is spent. */
export function nextDelay (schedule: number[], attemptsMade: number, jitter: number, retryAfterSeconds?: number): number | undefined {
  const base = schedule[attemptsMade]
  if (base === undefined) return undefined
  // A Retry-After (429, 503) is honoured up to the longest step of the schedule.
  const wanted = retryAfterSeconds === undefined ? base : Math.max(base, Math.min(retryAfterSeconds * 1000, Math.max(...schedule)))
  return Math.round(wanted * (1 - jitter + 2 * jitter * Math.random()))
}

/**
 * The delivery worker. Endpoints are leased (wd_endpoint_health, claimed with FOR UPDATE SKIP
 * LOCKED): one owner per endpoint across replicas, renewed while it works, released when it
 * has nothing due. Attempts are recorded only while the lease is still held (a paused owner's
 * late result is dropped; the new owner attempts again: at least once, never lost).
 */
export function createWorker (options: WorkerOptions): Worker {
  const { db } = options
  const running = new Map<string, Promise<void>>()
  let inFlight = 0
  const slotWaiters: Array<() => void> = []
  let stopping = false
  let loop: Promise<void> | undefined
  let wakeUp: (() => void) | undefined
  // A wake that came while the loop was busy: look again before sleeping.
  let woken = false
  const stopController = new AbortController()

  async function slot (): Promise<void> {
    while (inFlight >= options.concurrency) await new Promise<void>((resolve) => slotWaiters.push(resolve))
    inFlight++
  }
  function release (): void {
    inFlight--
    slotWaiters.shift()?.()
  }

  async function claim (limit: number): Promise<string[]> {
    const rows = await sql<{ endpoint_id: string }>`
      UPDATE wd_endpoint_health h SET lease_owner = ${options.owner}, lease_until = now() + ${`${options.leaseMs} milliseconds`}::interval
      WHERE h.endpoint_id IN (
        SELECT h2.endpoint_id FROM wd_endpoint_health h2 JOIN wd_endpoints e ON e.endpoint_id = h2.endpoint_id
        WHERE e.status = 'enabled' AND (h2.lease_until IS NULL OR h2.lease_until < now() OR h2.lease_owner = ${options.owner})
          AND EXISTS (SELECT 1 FROM wd_deliveries d WHERE d.endpoint_id = h2.endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= now())
          AND NOT (h2.endpoint_id = ANY (${[...running.keys()]}::text[]))
        LIMIT ${limit}
        FOR UPDATE OF h2 SKIP LOCKED)
      RETURNING h.endpoint_id`.execute(db)
    return rows.rows.map((r) => r.endpoint_id)
  }

  async function renew (endpointId: string): Promise<boolean> {
    const r = await db.updateTable('wd_endpoint_health').set({ lease_until: sql<Date>`now() + ${`${options.leaseMs} milliseconds`}::interval` })
      .where('endpoint_id', '=', endpointId).where('lease_owner', '=', options.owner).executeTakeFirst()
    return r.numUpdatedRows === 1n
  }

  async function secretsOf (endpointId: string, version: number, previousValidUntil: Date | null): Promise<string[]> {
    const rows = await db.selectFrom('wd_endpoint_secrets').select(['version', 'sealed']).where('endpoint_id', '=', endpointId)
      .where('version', 'in', previousValidUntil !== null && previousValidUntil.getTime() > Date.now() ? [version, version - 1] : [version]).execute()
    return rows.sort((a, b) => b.version - a.version).map((r) => options.box.decrypt(r.sealed))
  }

  /** One attempt; false when its result could not be recorded (the lease was lost). */
  async function attempt (endpoint: { endpoint_id: string, url: string }, secrets: string[], d: Delivery): Promise<boolean> {
    const started = new Date()
    const result = await options.sender.send(endpoint.url, webhookHeaders(secrets, d.message_id, d.body), d.body)
    const made = d.attempts + 1
    const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300
    const gone = result.statusCode === 410
    const delay = ok || gone || d.kind === 'test' ? undefined : nextDelay(options.schedule, made, options.jitter, result.retryAfterSeconds)
    const status = ok ? 'delivered' : delay === undefined ? 'failed' : 'pending'
    const countsForHealth = d.kind !== 'test'
    let failingSince: Date | null = null
    const recorded = await db.transaction().execute(async (trx) => {
      const updated = await sql<{ delivery_id: string }>`
        UPDATE wd_deliveries SET attempts = ${made}, status = ${status},
          next_attempt_at = ${delay === undefined ? null : new Date(Date.now() + delay)},
          last_status_code = ${result.statusCode ?? null}, last_error = ${result.error ?? null},
          delivered_at = ${ok ? new Date() : null}
        WHERE delivery_id = ${d.delivery_id} AND attempts = ${d.attempts} AND status = 'pending'
          AND EXISTS (SELECT 1 FROM wd_endpoint_health WHERE endpoint_id = ${endpoint.endpoint_id} AND lease_owner = ${options.owner} AND lease_until > now())
        RETURNING delivery_id`.execute(trx)
      if (updated.rows.length === 0) return false
      await trx.insertInto('wd_attempts').values({
        delivery_id: d.delivery_id,
        attempt: made,
        endpoint_id: endpoint.endpoint_id,
        started_at: started,
        latency_ms: result.latencyMs,
        status_code: result.statusCode ?? null,
        error: result.error ?? null,
        worker: options.owner
      }).execute()
      if (countsForHealth && ok) {
        // Concurrent successes on one endpoint would queue on its health row: touch it only when
        // it changes (or once a second), so the row lock is not taken per delivery.
        await sql`UPDATE wd_endpoint_health SET failing_since = NULL, last_success_at = now()
          WHERE endpoint_id = ${endpoint.endpoint_id} AND (failing_since IS NOT NULL OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')`.execute(trx)
      } else if (countsForHealth) {
        const health = await trx.updateTable('wd_endpoint_health')
          .set({ failing_since: sql<Date>`coalesce(failing_since, ${started})`, last_failure_at: new Date() })
          .where('endpoint_id', '=', endpoint.endpoint_id).returning('failing_since').executeTakeFirst()
        failingSince = health?.failing_since ?? null
      }
      return true
    })
    if (!recorded) {
      options.log.warn({ endpointId: endpoint.endpoint_id, deliveryId: d.delivery_id }, 'attempt result dropped: the endpoint lease was lost')
      return false
    }
    options.onAttempt?.(ok ? 'delivered' : result.refused !== undefined ? 'refused' : status === 'pending' ? 'retry' : 'failed', result, d)
    if (!countsForHealth) return true
    if (gone) {
      await options.disable(endpoint.endpoint_id, 'gone', 'The endpoint answered 410 Gone.')
    } else if (status === 'failed' && failingSince !== null && Date.now() - (failingSince as Date).getTime() >= options.disableAfterFailingMs) {
      await options.disable(endpoint.endpoint_id, 'failing', `Every attempt failed since ${(failingSince as Date).toISOString()}; the last: ${result.error ?? 'no answer'}.`, failingSince)
    }
    return true
  }

  /** Deliver what is due on one leased endpoint until nothing is, then let the lease go. */
  async function work (endpointId: string): Promise<void> {
    try {
      while (!stopping) {
        if (!(await renew(endpointId))) return
        const endpoint = await db.selectFrom('wd_endpoints').select(['endpoint_id', 'url', 'status', 'secret_version', 'previous_valid_until']).where('endpoint_id', '=', endpointId).executeTakeFirst()
        if (endpoint === undefined || endpoint.status !== 'enabled') return
        const due = await db.selectFrom('wd_deliveries').selectAll().where('endpoint_id', '=', endpointId).where('status', '=', 'pending')
          .where('next_attempt_at', '<=', sql<Date>`now()`).orderBy('next_attempt_at').limit(options.batch).execute()
        if (due.length === 0) return
        const secrets = await secretsOf(endpointId, endpoint.secret_version, endpoint.previous_valid_until)
        let next = 0
        let recorded = 0
        const lanes = Array.from({ length: Math.min(options.endpointConcurrency, due.length) }, async () => {
          while (next < due.length && !stopping) {
            const d = due[next++]!
            await slot()
            try {
              if (await attempt(endpoint, secrets, d)) recorded++
            } catch (error) {
              options.log.error({ err: error, endpointId, deliveryId: d.delivery_id }, 'delivery attempt could not be recorded; it stays due')
            } finally {
              release()
            }
          }
        })
        await Promise.all(lanes)
        // Nothing recorded (lease lost, database trouble): let go rather than spin.
        if (recorded === 0) return
      }
    } finally {
      await db.updateTable('wd_endpoint_health').set({ lease_owner: null, lease_until: null })
        .where('endpoint_id', '=', endpointId).where('lease_owner', '=', options.owner).execute().catch(() => {})
    }
  }

  async function run (): Promise<void> {
    let delay = options.pollMs
    while (!stopping) {
      try {
        const free = Math.max(1, Math.floor((options.concurrency - inFlight) / options.endpointConcurrency) + 1)
        for (const endpointId of await claim(free)) {
          running.set(endpointId, work(endpointId).catch((error: unknown) => {
            options.log.error({ err: error, endpointId }, 'endpoint delivery failed; its deliveries stay due')
          }).finally(() => { running.delete(endpointId); woken = true; wakeUp?.() }))
        }
        delay = options.pollMs
      } catch (error) {
        if (stopping) break
        options.log.error({ err: error }, 'claiming due deliveries failed; trying again')
        delay = Math.min(delay * 2, 30_000)
      }
      if (woken) { woken = false; continue }
      const wait = new AbortController()
      wakeUp = () => { wait.abort() }
      await sleep(delay, undefined, { signal: AbortSignal.any([wait.signal, stopController.signal]) }).catch(() => {})
      wakeUp = undefined
      woken = false
    }
  }

  return {
    start () { loop ??= run() },
    wake () { woken = true; wakeUp?.() },
    async stop () {
      stopping = true
      stopController.abort()
      wakeUp?.()
      await loop
      await Promise.all(running.values())
    }
  }
}
