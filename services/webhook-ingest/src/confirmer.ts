import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely'
import { CommandErrorCodes, handleCommand, type KnownState } from '@paylinks/commands'
import { forwardPath, paymentLinkStream, type EventRegistry, type LinkStatus, type RecordedEvent } from '@paylinks/contracts'
import type { DojoClient } from '@paylinks/dojo-client'
import { eventTraceContext, eventTraceLink, propagatesTraces, type EventStore } from '@paylinks/event-store'
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api'
import type { EventPublisher } from '@paylinks/messaging'
import { scrubSecrets } from '@paylinks/service-kit'
import { IngestError, IngestErrorCodes } from './errors.js'
import { moneyEventId, statusChangeEventId } from './ids.js'
import type { ConfirmLimiter } from './confirm-limiter.js'
import type { LinkDirectory } from './link-directory.js'
import type { KnownLink } from './links.js'
import { capturedAmountOf, evolveIngestLink, linkStatusFor, moneyMoves, type IngestLinkState } from './status.js'
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
  /** intent → link (shared with the endpoint; the store subscriber fills it). */
  links: LinkDirectory
  /** The Dojo client of a merchant (its own key). */
  dojoFor: (merchantId: string) => Promise<DojoClient>
  concurrency: number
  pollMs: number
  leaseMs: number
  retryBaseMs: number
  retryMaxMs: number
  log: Log
  /**
   * How many confirmations may start now (`createConfirmLimiter`): while deliveries arrive it
   * paces them so the endpoint stays fast; they catch up once the burst passes. Deliveries are
   * durable; their confirmation can wait. Without it, `concurrency` at a time.
   */
  limiter?: Pick<ConfirmLimiter, 'take' | 'giveBack' | 'waitMs'>
  /** Called when the queue is empty, before waiting (the unmatched-webhook matcher runs there). */
  onIdle?: () => Promise<void>
  onResult?: (result: { source: Confirmation['source'], outcome: 'changed' | 'unchanged' | 'failed', lagSeconds: number }) => void
}

export interface ConfirmResult {
  /** The statuses the link moved through, in order; empty when Dojo's status is not ahead. */
  moves: string[]
  /** How many captures and refunds were recorded. */
  money: number
  dojoStatus: string
}

export interface Confirmer {
  start: () => void
  /** Finish the confirmations in hand, then stop. */
  stop: () => Promise<void>
  /** Look at the queue now (new rows were committed). */
  wake: () => void
  /**
   * Ask Dojo about one intent and record the forward moves it implies. `held`, when given, is
   * asked right before the outcome is published: false (the lease was lost) publishes nothing.
   */
  confirm: (row: Pick<Confirmation, 'payment_intent_id' | 'source' | 'cause_event_id'>, held?: () => boolean) => Promise<ConfirmResult>
}

const MAX_RACES = 25

type LinkFold = KnownState<IngestLinkState | undefined>

/**
 * A link's stream as the command handler would fold it on a read of its own; with `before`, the
 * fold of the stream up to `before.version`, the events being the ones after it.
 */
function folded (events: RecordedEvent[], before?: LinkFold): LinkFold {
  const last = events.at(-1)
  return {
    state: events.reduce(evolveIngestLink, before?.state),
    position: last?.position ?? before?.position ?? 0,
    version: last?.streamVersion ?? before?.version ?? 0
  }
}

/** Links whose fold a worker keeps between confirmations (a full map starts again). */
const MAX_FOLDS = 10_000

/**
 * The confirmation worker. Queued rows are leased (`next_attempt_at` moves past the lease, so a
 * crashed worker's rows come back) a few intents at a time, each intent confirmed with Dojo once
 * for all its rows, which are then deleted; a failure is retried with back-off, forever: a
 * recorded webhook is never left unconfirmed. A claimed batch shares its database work (one
 * look-up of its links, one read of their streams, one delete), so a confirmation costs little
 * more than its Dojo read and its publish.
 */
export function createConfirmer (options: ConfirmerOptions): Confirmer {
  const { db, store, publisher, registry, log } = options
  let stopping = false
  let running: Promise<void> | undefined
  let wakeUp: (() => void) | undefined
  let endPause: (() => void) | undefined
  let woken = false

  const traced = propagatesTraces()
  // Each link's fold as of its last read, by stream: a stream only grows (recorded events never
  // change, versions have no gaps), so the next confirmation of the link reads only the events
  // after that version, not its whole history again (a link Dojo keeps re-sending webhooks for
  // has hundreds of deliveries, each a row to read, check and fold). Traced confirmations read
  // the whole stream: their span continues the trace kept on its issued event.
  const folds = new Map<string, LinkFold>()
  const keepFold = (streamId: string, fold: LinkFold): void => {
    if (folds.size >= MAX_FOLDS && !folds.has(streamId)) folds.clear()
    folds.set(streamId, fold)
  }

  type Row = Pick<Confirmation, 'payment_intent_id' | 'source' | 'cause_event_id'>

  async function confirm (row: Row, held?: () => boolean): Promise<ConfirmResult> {
    const link = await options.links.find(row.payment_intent_id)
    if (link === undefined) throw new IngestError(IngestErrorCodes.unknownLink, `no issued link for intent ${row.payment_intent_id}`)
    const events = await store.readStream(paymentLinkStream(link.linkId))
    return await confirmRead(row, link, events, folded(events), held)
  }

  /**
   * Confirm on a stream already read (for a batch, in one query): the decision starts from its
   * fold, and only a lost race reads the stream again.
   */
  async function confirmRead (row: Row, link: KnownLink, events: RecordedEvent[], known: LinkFold, held?: () => boolean): Promise<ConfirmResult> {
    return traced ? await confirmTraced(row, link, events, known, held) : await confirmLink(row, link, known, held)
  }

  /**
   * Dojo's webhook is a request of its own, without a traceparent: its spans form a trace of
   * their own. The confirmation belongs to the payment, so it continues the trace the link was
   * issued in (kept in the issued event's metadata), with a span link to the webhook's trace
   * (kept in the webhook-received event that caused it): both found in the stream the decision
   * is folded from, so tracing costs no read of its own.
   */
  async function confirmTraced (row: Row, link: KnownLink, events: RecordedEvent[], known: LinkFold, held?: () => boolean): Promise<ConfirmResult> {
    const origin = events.find((e) => e.type === 'payment-link.issued') ?? events[0]
    const cause = row.cause_event_id === null ? undefined : events.find((e) => e.id === row.cause_event_id)
    const causeLink = cause === undefined ? undefined : eventTraceLink(cause)
    const links: Link[] = causeLink === undefined ? [] : [{ ...causeLink, attributes: { 'paylinks.link.reason': 'webhook that caused this confirmation' } }]
    const parent = (origin === undefined ? undefined : eventTraceContext(origin)) ?? ROOT_CONTEXT
    const tracer = trace.getTracer('webhook-ingest')
    const span = tracer.startSpan('confirm payment status', {
      kind: SpanKind.INTERNAL,
      links,
      attributes: { 'paylinks.link.id': link.linkId, 'paylinks.confirmation.source': row.source, ...(row.cause_event_id === null ? {} : { 'paylinks.cause.event.id': row.cause_event_id }) }
    }, parent)
    try {
      const result = await context.with(trace.setSpan(parent, span), async () => await confirmLink(row, link, known, held))
      span.setAttribute('paylinks.moves', result.moves.join(','))
      return result
    } catch (error) {
      const code = (error as { code?: unknown }).code
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' })
      throw error
    } finally {
      span.end()
    }
  }

  async function confirmLink (row: Row, { linkId, merchantId }: KnownLink, known: LinkFold, held?: () => boolean): Promise<ConfirmResult> {
    const dojo = await options.dojoFor(merchantId)
    // The webhook has no amount and is not trusted alone: Dojo's current view decides.
    const intent = await dojo.getPaymentIntent(row.payment_intent_id, { returnCanceled: true })
    const streamId = paymentLinkStream(linkId)
    let moves: LinkStatus[] = []
    let moneyCount = 0
    try {
      await handleCommand({
        store,
        publisher,
        streamId,
        initialState: () => undefined,
        evolve: evolveIngestLink,
        known,
        // Often our own recorder is just behind the last move: read again and decide again.
        retry: { retries: MAX_RACES, minDelayMs: 10, maxDelayMs: 200 },
        decide: (state) => {
          if (state === undefined) throw new IngestError(IngestErrorCodes.unknownLink, `link ${linkId} has no recorded request`)
          // The fence: a worker that lost its lease (it stalled; another has the rows now) does
          // not publish. (Were it to, the move's id and expected sequence make it a duplicate.)
          if (held?.() === false) throw new IngestError(IngestErrorCodes.leaseLost, `the lease on ${row.payment_intent_id}'s confirmations was taken over`)
          const now = new Date()
          moves = forwardPath(state.status, linkStatusFor(intent, now))
          const correlationId = state.issueCorrelationId ?? `link:${linkId}`
          const captured = capturedAmountOf(intent)
          let from = state.status
          const metadata = { correlationId, producer: 'webhook-ingest', ...(row.cause_event_id === null ? {} : { causationId: row.cause_event_id }) }
          const changes = moves.map((to) => {
            const event = registry.create('payment-link.status-changed', {
              linkId,
              paymentIntentId: intent.id,
              from,
              to,
              dojoStatus: intent.status,
              amount: { value: intent.amount.value, currencyCode: intent.amount.currencyCode },
              // Only an Auto payment is captured by its status move; Manual captures are events of their own.
              capturedAmount: to === 'paid' ? captured : 0,
              // Refunds are events of their own (below), never carried by a status move.
              refundedAmount: 0,
              source: row.source,
              observedAt: now.toISOString()
            }, { streamId, id: statusChangeEventId(linkId, from, to), occurredAt: now, metadata })
            from = to
            return event
          })
          const currency = intent.amount.currencyCode
          const money = moneyMoves(state, from, intent).map((m) => m.kind === 'captured'
            ? registry.create('payment-link.captured', {
              linkId, paymentIntentId: intent.id, captureId: m.captureId, amount: { value: m.amount, currencyCode: currency }, capturedAmount: m.capturedAmount, source: row.source, observedAt: now.toISOString()
            }, { streamId, id: moneyEventId(linkId, 'capture', m.captureId), occurredAt: now, metadata })
            : registry.create('payment-link.refunded', {
              linkId, paymentIntentId: intent.id, refundId: m.refundId, amount: { value: m.amount, currencyCode: currency }, refundedAmount: m.refundedAmount, capturedAmount: m.capturedAmount, source: row.source, observedAt: now.toISOString()
            }, { streamId, id: moneyEventId(linkId, 'refund', String(m.refundedAmount)), occurredAt: now, metadata }))
          moneyCount = money.length
          return [...changes, ...money]
        }
      })
    } catch (error) {
      if ((error as { code?: string }).code === CommandErrorCodes.contended) {
        throw new IngestError(IngestErrorCodes.contended, `link ${linkId} kept moving while deciding`, { cause: error })
      }
      throw error
    }
    if (moves.length > 0 || moneyCount > 0) log.info({ linkId, paymentIntentId: intent.id, moves, money: moneyCount, source: row.source }, 'status changed')
    return { moves, money: moneyCount, dojoStatus: intent.status }
  }

  /**
   * Lease the due deliveries of up to `limit` intents, oldest first: every due row of a chosen
   * intent comes along, since one read of the intent at Dojo answers them all.
   */
  async function claim (limit: number): Promise<Confirmation[][]> {
    const { rows } = await sql<Confirmation>`
      WITH due AS (
        SELECT payment_intent_id, next_attempt_at FROM wi_confirmations WHERE next_attempt_at <= now()
         ORDER BY next_attempt_at LIMIT ${limit * 4} FOR UPDATE SKIP LOCKED
      ), intents AS (
        SELECT payment_intent_id FROM due GROUP BY payment_intent_id ORDER BY min(next_attempt_at) LIMIT ${limit}
      ), rows AS (
        SELECT c.key FROM wi_confirmations c JOIN intents i ON i.payment_intent_id = c.payment_intent_id
         WHERE c.next_attempt_at <= now() FOR UPDATE OF c SKIP LOCKED
      )
      UPDATE wi_confirmations c
         SET attempts = c.attempts + 1, next_attempt_at = now() + make_interval(secs => ${options.leaseMs / 1000})
        FROM rows
       WHERE c.key = rows.key
   RETURNING c.*`.execute(db)
    const byIntent = new Map<string, Confirmation[]>()
    for (const row of rows) {
      const group = byIntent.get(row.payment_intent_id)
      if (group === undefined) byIntent.set(row.payment_intent_id, [row])
      else group.push(row)
    }
    return [...byIntent.values()]
  }

  /** The rows exactly as leased: a row leased again by someone else since is left alone. */
  function leased (rows: Confirmation[]): RawBuilder<unknown> {
    return sql`(key, attempts) IN (SELECT * FROM unnest(${rows.map((r) => r.key)}::text[], ${rows.map((r) => r.attempts)}::int[]))`
  }

  interface Job {
    rows: Confirmation[]
    row: Row
    /** False once a renewal found one of its rows leased again by someone else. */
    held: boolean
  }

  function job (rows: Confirmation[]): Job {
    // The latest delivery is the cause; a delivery outranks a reconciler check as the source.
    const latest = rows.reduce((a, b) => (b.received_at > a.received_at ? b : a))
    const source = rows.some((r) => r.source === 'webhook') ? 'webhook' : 'reconciler'
    const cause = rows.filter((r) => r.source === source).reduce((a, b) => (b.received_at > a.received_at ? b : a))
    return { rows, row: { payment_intent_id: latest.payment_intent_id, source, cause_event_id: cause.cause_event_id }, held: true }
  }

  function report (job: Job, outcome: 'changed' | 'unchanged' | 'failed'): void {
    for (const row of job.rows) options.onResult?.({ source: row.source, outcome, lagSeconds: (Date.now() - row.received_at.getTime()) / 1000 })
  }

  async function failed (job: Job, error: unknown): Promise<void> {
    const { payment_intent_id: paymentIntentId, source } = job.row
    if ((error as { code?: string }).code === IngestErrorCodes.leaseLost) {
      log.warn({ paymentIntentId }, 'confirmation lease lost to another worker; leaving it to them')
      return
    }
    const attempts = Math.max(...job.rows.map((r) => r.attempts))
    const delay = Math.min(options.retryBaseMs * 2 ** Math.max(0, attempts - 1), options.retryMaxMs) * (0.5 + Math.random())
    const message = scrubSecrets(error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error)).slice(0, 1000)
    log.warn({ paymentIntentId, source, deliveries: job.rows.length, attempts, retryInMs: Math.round(delay), error: message }, 'confirmation failed; will retry')
    report(job, 'failed')
    await sql`UPDATE wi_confirmations SET next_attempt_at = ${new Date(Date.now() + delay)}, last_error = ${message} WHERE ${leased(job.rows)}`.execute(db)
      .catch((e: unknown) => { log.error({ err: e }, 'could not reschedule a confirmation; its lease will bring it back') })
  }

  /**
   * Confirm a claimed batch: its links found and their streams read in one query each, every
   * intent then read at Dojo and decided on concurrently, and the rows of all that finished
   * deleted in one statement. A failure is an intent's own (retried with back-off); a stream
   * that moved since the read only costs that intent a reload.
   */
  async function process (groups: Confirmation[][]): Promise<void> {
    const jobs = groups.map(job)
    const rows = groups.flat()
    // Heartbeat: while Dojo is read (timeouts and retries included) and the outcomes published,
    // the batch's leases are renewed every third of the lease, so a short lease brings a crashed
    // worker's rows back within seconds without a slow read being taken over by a second worker.
    const renew = setInterval(() => {
      sql<{ key: string }>`UPDATE wi_confirmations SET next_attempt_at = now() + make_interval(secs => ${options.leaseMs / 1000}) WHERE ${leased(rows)} RETURNING key`.execute(db).then(
        (r) => {
          if (r.rows.length === rows.length) return
          const kept = new Set(r.rows.map((k) => k.key))
          for (const j of jobs) if (j.rows.some((row) => !kept.has(row.key))) j.held = false
        },
        (e: unknown) => { log.warn({ err: e, deliveries: rows.length }, 'could not renew confirmation leases') })
    }, Math.max(100, Math.floor(options.leaseMs / 3)))
    try {
      let links: Map<string, KnownLink>
      let streams: Map<string, RecordedEvent[]>
      try {
        links = await options.links.findMany(jobs.map((j) => j.row.payment_intent_id))
        const ids = [...links.values()].map((l) => paymentLinkStream(l.linkId))
        const afterVersions = new Map<string, number>()
        if (!traced) for (const id of ids) { const fold = folds.get(id); if (fold !== undefined) afterVersions.set(id, fold.version) }
        streams = await store.readStreams(ids, afterVersions.size === 0 ? undefined : { afterVersions })
      } catch (error) {
        clearInterval(renew)
        await Promise.all(jobs.map(async (j) => { await failed(j, error) }))
        return
      }
      type Outcome = { job: Job, result: ConfirmResult } | { job: Job, error: unknown }
      const outcomes = await Promise.all(jobs.map(async (j): Promise<Outcome> => {
        try {
          const link = links.get(j.row.payment_intent_id)
          if (link === undefined) throw new IngestError(IngestErrorCodes.unknownLink, `no issued link for intent ${j.row.payment_intent_id}`)
          const streamId = paymentLinkStream(link.linkId)
          const events = streams.get(streamId) ?? []
          const known = folded(events, traced ? undefined : folds.get(streamId))
          if (!traced) keepFold(streamId, known)
          return { job: j, result: await confirmRead(j.row, link, events, known, () => j.held) }
        } catch (error) {
          return { job: j, error }
        }
      }))
      clearInterval(renew)
      const done = outcomes.flatMap((o) => 'result' in o ? [o] : [])
      if (done.length > 0) {
        try {
          await sql`DELETE FROM wi_confirmations WHERE ${leased(done.flatMap((o) => o.job.rows))}`.execute(db)
        } catch (error) {
          // Published already: the rows come back when their lease runs out, and confirm again
          // as duplicates (deterministic ids, expected sequence).
          log.error({ err: error, deliveries: rows.length }, 'could not delete finished confirmations; their lease will bring them back')
        }
        for (const o of done) report(o.job, o.result.moves.length > 0 || o.result.money > 0 ? 'changed' : 'unchanged')
      }
      await Promise.all(outcomes.map(async (o) => { if ('error' in o) await failed(o.job, o.error) }))
    } finally {
      clearInterval(renew)
    }
  }

  /** Sleep `ms`; only stop() cuts it short (new work does not). */
  async function pause (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done (): void { clearTimeout(timer); endPause = undefined; resolve() }
      endPause = done
    })
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
      let groups: Confirmation[][] = []
      // Deliveries first: while they arrive, as many intents as the limiter's rate allows.
      const allowed = options.limiter?.take(options.concurrency) ?? options.concurrency
      if (allowed === 0) {
        await pause(options.limiter!.waitMs())
        continue
      }
      try {
        groups = await claim(allowed)
      } catch (error) {
        if (stopping) break
        log.error({ err: error }, 'could not read the confirmation queue')
      }
      if (groups.length < allowed) options.limiter?.giveBack(allowed - groups.length)
      if (groups.length > 0) {
        await process(groups)
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
      endPause?.()
      await running
    },
    wake () {
      woken = true
      wakeUp?.()
    }
  }
}
