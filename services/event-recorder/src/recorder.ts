import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Kysely } from 'kysely'
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import {
  checkProducer, ContractErrorCodes, createEventRegistry, domainEventProducers, domainEvents, parseEnvelope,
  type EventRegistry, type NewEvent, type ProducerRules
} from '@paylinks/contracts'
import { headPosition, record, recordDeadLetter, type EventStoreTables, type Executor, type PositionedEvent } from '@paylinks/event-store'
import { decodeEventMessage, propagatesTraces, resetConsumer, subjectFor, withMessageSpans, type Messaging } from '@paylinks/messaging'

/** Why a message was dead-lettered: the `reason` label of `event_recorder_dead_letters_total`. */
export const DeadLetterKinds = {
  /** Not JSON, or not an event envelope. */
  notAnEvent: 'not-an-event',
  /** The subject is not the event's stream, or its type is not of the stream's category. */
  subjectMismatch: 'subject-mismatch',
  unknownType: 'unknown-type',
  /** A schemaVersion newer than the recorder's registry knows: deploy the recorder with the producer. */
  unsupportedVersion: 'unsupported-version',
  invalidData: 'invalid-data',
  producerNotAllowed: 'producer-not-allowed'
} as const
export type DeadLetterKind = typeof DeadLetterKinds[keyof typeof DeadLetterKinds]

const KIND_OF_CODE: Readonly<Record<string, DeadLetterKind>> = {
  [ContractErrorCodes.unknownEvent]: DeadLetterKinds.unknownType,
  [ContractErrorCodes.unsupportedVersion]: DeadLetterKinds.unsupportedVersion,
  [ContractErrorCodes.invalidData]: DeadLetterKinds.invalidData,
  [ContractErrorCodes.producerNotAllowed]: DeadLetterKinds.producerNotAllowed
}

interface Refusal { kind: DeadLetterKind, reason: string }

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
  trace: (obj: object, msg: string) => void
}

export interface RecorderOptions {
  db: Kysely<EventStoreTables>
  messaging: Messaging
  stream: string
  subjectPrefix: string
  durable: string
  /** Most events inserted in one transaction. */
  batchSize: number
  /** Wait this long for more events before committing a batch smaller than `batchSize`. */
  lingerMs?: number
  /** The advisory lock that elects the one active recorder per database. */
  lockId: number
  /** How often a standby tries to take the lock. */
  standbyPollMs: number
  /** After a failure, wait about this long (jittered, doubling up to 2 s) before trying again. */
  retryDelayMs: number
  /**
   * While no message arrives, the lock's session is checked this often (`SELECT 1`): a recorder
   * whose session died (a Postgres restart, pg_terminate_backend, a network cut) stops pulling
   * within this long, instead of at its next write. Default 1000 ms.
   */
  heartbeatMs?: number
  /**
   * The lock's session ends if its client says nothing for this long (Postgres'
   * `idle_session_timeout`), so a frozen recorder (SIGSTOP, a hung host) frees the lock for a
   * standby. Above `heartbeatMs`; 0 turns it off. Default 10000 ms.
   */
  lockSessionTimeoutMs?: number
  log: Log
  /** The event types, versions and schemas the record accepts. Default: every domain event. */
  registry?: EventRegistry<any>
  /** Who may publish each type (`metadata.producer`). Default: `domainEventProducers`. */
  producers?: ProducerRules
  /** Called after each committed batch (metrics). */
  onBatch?: (batch: { recorded: number, skipped: number, deadLetters: DeadLetterKind[], lastSeq: number }) => void
}

export interface RecorderStatus {
  /** This instance holds the lock and is recording. */
  active: boolean
  /** The last stream sequence this instance has committed (recorded, skipped or dead-lettered). */
  lastSeq: number
}

export interface Recorder {
  start: () => void
  /** Finish the batch in hand, commit it, release the lock. */
  stop: () => Promise<void>
  status: () => RecorderStatus
}

/**
 * The one writer of the event store. Instances race for a Postgres advisory lock; the holder
 * records while the others stand by. The lock and every insert share one connection, so an
 * instance that loses its connection loses the lock and its ability to write together.
 *
 * The store is the recorder's checkpoint: on taking the lock the durable consumer is reset to
 * start after the store's head, so a crash anywhere (before commit, between commit and ack)
 * resumes at exactly the right place, in order, without waiting for redeliveries.
 */
export function createRecorder (options: RecorderOptions): Recorder {
  const { db, messaging, log } = options
  const registry = options.registry ?? createEventRegistry(domainEvents)
  const producers = options.producers ?? domainEventProducers
  let stopping = false
  let running: Promise<void> | undefined
  let messages: ConsumerMessages | undefined
  const state: RecorderStatus = { active: false, lastSeq: 0 }
  const stopController = new AbortController()
  const heartbeatMs = options.heartbeatMs ?? 1000
  const lockSessionTimeoutMs = options.lockSessionTimeoutMs ?? 10_000
  let delay = options.retryDelayMs
  const traced = propagatesTraces()

  async function lead (conn: Executor): Promise<void> {
    const head = await headPosition(conn)
    const info = await messaging.jsm.streams.info(options.stream)
    if (info.state.last_seq < head) {
      // The stream was recreated or points elsewhere: its sequences would collide with positions.
      throw new Error(`stream ${options.stream} ends at ${info.state.last_seq} but the store is at ${head}; refusing to record`)
    }
    if (info.state.messages > 0 && info.state.first_seq > head + 1) {
      log.error({ from: head + 1, to: info.state.first_seq - 1 }, 'events expired from the stream before they were recorded')
    }
    state.lastSeq = head
    await resetConsumer(messaging.jsm, {
      stream: options.stream,
      durable: options.durable,
      filterSubject: `${options.subjectPrefix}.>`,
      ackPolicy: 'all',
      startAt: { sequence: head + 1 },
      maxAckPending: options.batchSize * 4,
      ackWaitMs: 60_000
    })
    const consumer = await messaging.js.consumers.get(options.stream, options.durable)
    const pulled = await consumer.consume({ max_messages: options.batchSize * 2 })
    messages = pulled
    let lost: string | undefined
    void (async () => {
      for await (const status of pulled.status()) {
        // Our durable was deleted (a successor reset it: it holds the lock now) or vanished:
        // stop pulling at once and start over, rather than let nats.js re-pull from whatever
        // consumer of that name appears next.
        if (status.type === 'consumer_deleted' || status.type === 'consumer_not_found' || status.type === 'stream_not_found') {
          lost = status.type
          log.warn({ durable: options.durable, status: status.type }, 'the recorder\'s consumer is gone; starting over')
          await pulled.close().catch(() => {})
          return
        }
      }
    })().catch(() => {})
    state.active = true
    delay = options.retryDelayMs
    log.info({ stream: options.stream, from: head + 1 }, 'recording')

    // A pump fills the queue from JetStream while the writer commits what has arrived: batches
    // grow under load and stay tiny (low latency) when traffic is light.
    const queue: JsMsg[] = []
    let signal: (() => void) | undefined
    const wakeWriter = (): void => { signal?.(); signal = undefined }
    let pumpDone = false
    const pump = (async () => {
      try {
        for await (const msg of messages!) {
          queue.push(msg)
          wakeWriter()
          while (queue.length >= options.batchSize * 4 && !stopping) await sleep(1)
        }
      } finally {
        pumpDone = true
        wakeWriter()
      }
    })()

    try {
      while (!stopping) {
        if (queue.length === 0) {
          if (pumpDone) throw new Error(`the consumer subscription ended${lost === undefined ? '' : ` (${lost})`}`)
          const woken = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => { signal = undefined; resolve(false) }, heartbeatMs)
            signal = () => { clearTimeout(timer); resolve(true) }
          })
          // Quiet: make sure the session holding the lock is still there. If it is not, this
          // throws, the pull stops, and we go back to waiting for the lock.
          if (!woken && !stopping) await sql`SELECT 1`.execute(conn)
          continue
        }
        // A short linger when little has arrived: more events per transaction costs a few
        // milliseconds of latency and saves a commit (and its fsync) per event under load.
        if (queue.length < options.batchSize && (options.lingerMs ?? 0) > 0) await sleep(options.lingerMs)
        const batch = queue.splice(0, options.batchSize)
        // With tracing on, each message's trace continues in a consumer span around its batch's insert.
        if (traced) await withMessageSpans(`record ${options.stream}`, batch, async () => { await write(conn, batch) })
        else await write(conn, batch)
      }
    } finally {
      state.active = false
      await messages.close().catch(() => {})
      await pump.catch(() => {})
    }
  }

  /** The event in `msg` if the record accepts it; otherwise why not (its dead letter's kind). */
  function admit (msg: JsMsg): { event: NewEvent } | Refusal {
    let event: NewEvent
    try {
      event = parseEnvelope(decodeEventMessage(msg).body)
    } catch (error) {
      return { kind: DeadLetterKinds.notAnEvent, reason: (error as Error).message }
    }
    if (msg.subject !== subjectFor(options.subjectPrefix, event.streamId)) {
      return { kind: DeadLetterKinds.subjectMismatch, reason: `subject ${msg.subject} does not match stream ${event.streamId}` }
    }
    // NATS permissions are granted per subject (per category): a type from another category on
    // it would slip past them, e.g. a link's status change published on an order's subject.
    const category = event.streamId.slice(0, event.streamId.indexOf('.'))
    if (!event.type.startsWith(`${category}.`)) {
      return { kind: DeadLetterKinds.subjectMismatch, reason: `event type ${event.type} is not of the stream's category ${category}` }
    }
    try {
      registry.upcast(event) // type and version known, data valid; the event is stored as published
      checkProducer(producers, event)
    } catch (error) {
      // An upcaster that throws on old data has met data it cannot read: invalid, not a stall.
      return { kind: KIND_OF_CODE[(error as { code?: string }).code ?? ''] ?? DeadLetterKinds.invalidData, reason: (error as Error).message }
    }
    return { event }
  }

  /**
   * The fence against a second puller. The consumer delivers in stream order, so a message
   * missing between the last committed sequence and this batch went to someone else: a
   * recorder that lost its lock session but still pulled from the durable of the same name.
   * Acking past it (ack policy "all") would acknowledge an event nobody recorded. If the stream
   * still holds a missing sequence, refuse the batch: the caller starts over from the store's
   * head and the consumer redelivers it. (A sequence the stream no longer has was deleted or
   * expired: nothing to wait for.)
   */
  async function checkContiguous (batch: JsMsg[]): Promise<void> {
    let expected = state.lastSeq + 1
    const missing: Array<[number, number]> = []
    for (const msg of batch) {
      if (msg.seq <= state.lastSeq) continue
      if (msg.seq > expected) missing.push([expected, msg.seq - 1])
      expected = Math.max(expected, msg.seq + 1)
    }
    if (missing.length === 0) return
    const first = (await messaging.jsm.streams.info(options.stream)).state.first_seq
    for (const [from, to] of missing) {
      for (let seq = Math.max(from, first); seq <= to; seq++) {
        const held = await messaging.jsm.streams.getMessage(options.stream, { seq }).then(() => true, (error: unknown) => {
          if (/no message found|not found/i.test((error as Error).message)) return false
          throw error
        })
        if (held) throw new Error(`sequence ${seq} was delivered to another puller; not acking past it`)
      }
    }
  }

  async function write (conn: Executor, batch: JsMsg[]): Promise<void> {
    await checkContiguous(batch)
    const events: PositionedEvent[] = []
    const deadLetters: Array<{ position: number, subject: string, reason: string, kind: DeadLetterKind, body: string }> = []
    for (const msg of batch) {
      if (msg.seq <= state.lastSeq) continue // a redelivery of what is committed
      const admitted = admit(msg)
      if ('event' in admitted) events.push({ position: msg.seq, event: admitted.event })
      else deadLetters.push({ position: msg.seq, subject: msg.subject, ...admitted, body: msg.string() })
    }
    let recorded = 0
    let skipped = 0
    if (events.length > 0 || deadLetters.length > 0) {
      await conn.transaction().execute(async (trx) => {
        const result = await record(trx, events)
        recorded = result.recorded.length
        skipped = result.skipped.length
        for (const letter of deadLetters) await recordDeadLetter(trx, letter)
      })
    }
    // Ack after the commit. With ack policy "all" the last ack covers the batch; if it is lost,
    // the redelivery is recognised by its sequence and skipped.
    const last = batch[batch.length - 1]!
    last.ack()
    state.lastSeq = Math.max(state.lastSeq, last.seq)
    for (const letter of deadLetters) log.error({ position: letter.position, subject: letter.subject, kind: letter.kind, reason: letter.reason }, 'refused by the record: kept as a dead letter')
    log.trace({ recorded, skipped, lastSeq: state.lastSeq }, 'batch committed')
    options.onBatch?.({ recorded, skipped, deadLetters: deadLetters.map((l) => l.kind), lastSeq: state.lastSeq })
  }

  async function runOnce (): Promise<void> {
    await db.connection().execute(async (conn) => {
      while (!stopping) {
        const { rows } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_lock(${options.lockId}::bigint) AS locked`.execute(conn)
        if (rows[0]?.locked === true) break
        await sleep(options.standbyPollMs, undefined, { signal: stopController.signal }).catch(() => {})
      }
      if (stopping) return
      // Frozen between statements or inside a transaction alike, the session (and the lock) ends.
      if (lockSessionTimeoutMs > 0) {
        await sql`SELECT set_config('idle_session_timeout', ${`${lockSessionTimeoutMs}ms`}, false), set_config('idle_in_transaction_session_timeout', ${`${lockSessionTimeoutMs}ms`}, false)`.execute(conn)
      }
      try {
        await lead(conn)
      } finally {
        await sql`SELECT pg_advisory_unlock(${options.lockId}::bigint)`.execute(conn).catch(() => {})
        if (lockSessionTimeoutMs > 0) {
          await sql`RESET idle_session_timeout`.execute(conn).catch(() => {})
          await sql`RESET idle_in_transaction_session_timeout`.execute(conn).catch(() => {})
        }
      }
    })
  }

  async function loop (): Promise<void> {
    while (!stopping) {
      try {
        await runOnce()
        delay = options.retryDelayMs
      } catch (error) {
        if (stopping) break
        log.error({ err: error, retryInMs: delay }, 'recorder stopped on an error; starting again')
        await sleep(delay / 2 + Math.random() * delay, undefined, { signal: stopController.signal }).catch(() => {})
        // Bounded: once Postgres or NATS is back, recording resumes within a couple of seconds.
        delay = Math.min(delay * 2, 2000)
      }
    }
  }

  return {
    start () {
      running ??= loop()
    },
    async stop () {
      stopping = true
      stopController.abort()
      await messages?.close().catch(() => {})
      await running
    },
    status: () => ({ ...state })
  }
}
