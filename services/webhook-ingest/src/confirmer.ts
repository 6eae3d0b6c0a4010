import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Kysely, type Selectable } from 'kysely'
import { paymentLinkStream, type EventRegistry, type NewEvent } from '@paylinks/contracts'
import type { DojoClient } from '@paylinks/dojo-client'
import type { EventStore } from '@paylinks/event-store'
import { MessagingErrorCodes, type EventPublisher } from '@paylinks/messaging'
import { scrubSecrets } from '@paylinks/service-kit'
import { IngestError, IngestErrorCodes } from './errors.js'
import { statusChangeEventId } from './ids.js'
import { capturedAmountOf, foldLink, forwardPath, linkStatusFor } from './status.js'
import type { ConfirmationsTable, Tables } from './tables.js'

export type Confirmation = Selectable<ConfirmationsTable>

interface Log {
  debug: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface ConfirmerOptions {
  db: Kysely<Tables>
  store: EventStore
  publisher: EventPublisher
  registry: EventRegistry<any>
  /** The Dojo client of a merchant (its own key). */
  dojoFor: (merchantId: string) => Promise<DojoClient>
  concurrency: number
  pollMs: number
  leaseMs: number
  retryBaseMs: number
  retryMaxMs: number
  log: Log
  /** Called when the queue is empty, before waiting (the unmatched-webhook matcher runs there). */
  onIdle?: () => Promise<void>
  onResult?: (result: { source: Confirmation['source'], outcome: 'changed' | 'unchanged' | 'failed', lagSeconds: number }) => void
}

export interface ConfirmResult {
  /** The statuses the link moved through, in order; empty when Dojo's status is not ahead. */
  moves: string[]
  dojoStatus: string
}

export interface Confirmer {
  start: () => void
  /** Finish the confirmations in hand, then stop. */
  stop: () => Promise<void>
  /** Look at the queue now (new rows were committed). */
  wake: () => void
  /** Ask Dojo about one intent and record the forward moves it implies. */
  confirm: (row: Pick<Confirmation, 'payment_intent_id' | 'source' | 'cause_event_id'>) => Promise<ConfirmResult>
}

const MAX_RACES = 25

/**
 * The confirmation worker. Each queued row is leased (`next_attempt_at` moves past the lease, so
 * a crashed worker's row comes back), confirmed with Dojo, and deleted; a failure is retried
 * with back-off, forever: a recorded webhook is never left unconfirmed.
 */
export function createConfirmer (options: ConfirmerOptions): Confirmer {
  const { db, store, publisher, registry, log } = options
  let stopping = false
  let running: Promise<void> | undefined
  let wakeUp: (() => void) | undefined
  let woken = false

  async function confirm (row: Pick<Confirmation, 'payment_intent_id' | 'source' | 'cause_event_id'>): Promise<ConfirmResult> {
    const link = await db.selectFrom('wi_links').select(['link_id', 'merchant_id']).where('payment_intent_id', '=', row.payment_intent_id).executeTakeFirst()
    if (link === undefined) throw new IngestError(IngestErrorCodes.unknownLink, `no issued link for intent ${row.payment_intent_id}`)
    const dojo = await options.dojoFor(link.merchant_id)
    // The webhook has no amount and is not trusted alone: Dojo's current view decides.
    const intent = await dojo.getPaymentIntent(row.payment_intent_id, { returnCanceled: true })
    const streamId = paymentLinkStream(link.link_id)
    for (let race = 0; ; race++) {
      const events = await store.readStream(streamId)
      const state = foldLink(link.link_id, events)
      const now = new Date()
      const path = forwardPath(state.status, linkStatusFor(intent, now))
      if (path.length === 0) return { moves: [], dojoStatus: intent.status }
      const correlationId = events.find((e) => e.type === 'payment-link.issued')?.metadata.correlationId ?? `link:${link.link_id}`
      const captured = capturedAmountOf(intent)
      let from = state.status
      const changes: NewEvent[] = path.map((to, i) => {
        const last = i === path.length - 1
        const event = registry.create('payment-link.status-changed', {
          linkId: link.link_id,
          paymentIntentId: intent.id,
          from,
          to,
          dojoStatus: intent.status,
          amount: { value: intent.amount.value, currencyCode: intent.amount.currencyCode },
          capturedAmount: to === 'authorized' ? 0 : captured,
          // A move on the way (paid, before refunded) is reported as it was: nothing refunded yet.
          refundedAmount: last ? intent.refundedAmount ?? 0 : 0,
          source: row.source,
          observedAt: now.toISOString()
        }, {
          streamId,
          id: statusChangeEventId(link.link_id, from, to),
          occurredAt: now,
          metadata: { correlationId, producer: 'webhook-ingest', ...(row.cause_event_id === null ? {} : { causationId: row.cause_event_id }) }
        })
        from = to
        return event
      })
      try {
        await publisher.publish(changes, { expectedLastSubjectSequence: state.lastPosition })
        log.info({ linkId: link.link_id, paymentIntentId: intent.id, moves: path, source: row.source }, 'status changed')
        return { moves: path, dojoStatus: intent.status }
      } catch (error) {
        // Someone published on the link since we read it (often our own recorder is just behind):
        // read again and decide again.
        if ((error as { code?: string }).code !== MessagingErrorCodes.concurrency || race >= MAX_RACES) {
          if ((error as { code?: string }).code === MessagingErrorCodes.concurrency) {
            throw new IngestError(IngestErrorCodes.contended, `link ${link.link_id} kept moving while deciding`, { cause: error })
          }
          throw error
        }
        await sleep(10 + Math.random() * 20 * Math.min(race + 1, 10))
      }
    }
  }

  async function claim (limit: number): Promise<Confirmation[]> {
    const { rows } = await sql<Confirmation>`
      UPDATE wi_confirmations c
         SET attempts = c.attempts + 1, next_attempt_at = now() + make_interval(secs => ${options.leaseMs / 1000})
        FROM (SELECT key FROM wi_confirmations WHERE next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) due
       WHERE c.key = due.key
   RETURNING c.*`.execute(db)
    return rows
  }

  async function process (row: Confirmation): Promise<void> {
    try {
      const result = await confirm(row)
      await db.deleteFrom('wi_confirmations').where('key', '=', row.key).where('attempts', '=', row.attempts).execute()
      options.onResult?.({ source: row.source, outcome: result.moves.length > 0 ? 'changed' : 'unchanged', lagSeconds: (Date.now() - row.received_at.getTime()) / 1000 })
    } catch (error) {
      const delay = Math.min(options.retryBaseMs * 2 ** Math.max(0, row.attempts - 1), options.retryMaxMs) * (0.5 + Math.random())
      const message = scrubSecrets(error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error)).slice(0, 1000)
      log.warn({ paymentIntentId: row.payment_intent_id, source: row.source, attempts: row.attempts, retryInMs: Math.round(delay), error: message }, 'confirmation failed; will retry')
      options.onResult?.({ source: row.source, outcome: 'failed', lagSeconds: (Date.now() - row.received_at.getTime()) / 1000 })
      await db.updateTable('wi_confirmations')
        .set({ next_attempt_at: new Date(Date.now() + delay), last_error: message })
        .where('key', '=', row.key).where('attempts', '=', row.attempts).execute()
        .catch((e: unknown) => { log.error({ err: e }, 'could not reschedule a confirmation; its lease will bring it back') })
    }
  }

  async function idle (): Promise<void> {
    if (woken) { woken = false; return }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.pollMs)
      function done (): void { clearTimeout(timer); wakeUp = undefined; resolve() }
      wakeUp = done
    })
    woken = false
  }

  async function loop (): Promise<void> {
    while (!stopping) {
      let rows: Confirmation[] = []
      try {
        rows = await claim(options.concurrency)
      } catch (error) {
        if (stopping) break
        log.error({ err: error }, 'could not read the confirmation queue')
      }
      if (rows.length > 0) {
        await Promise.all(rows.map(process))
        continue
      }
      try {
        await options.onIdle?.()
      } catch (error) {
        log.error({ err: error }, 'idle task failed')
      }
      if (!stopping) await idle()
    }
  }

  return {
    confirm,
    start () { running ??= loop() },
    async stop () {
      stopping = true
      wakeUp?.()
      await running
    },
    wake () {
      woken = true
      wakeUp?.()
    }
  }
}
