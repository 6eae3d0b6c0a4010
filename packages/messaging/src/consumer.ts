import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import { propagatesTraces, withMessageSpans } from './tracing.js'

/** What a handler decided about one message. */
export type Outcome =
  | { action: 'ack' }
  /** Try again later: redelivered after `delayMs`. */
  | { action: 'nak', delayMs: number }
  /** Never redeliver: the message can never succeed (the handler has recorded why). */
  | { action: 'term', reason: string }

export const ack = (): Outcome => ({ action: 'ack' })
export const nak = (delayMs: number): Outcome => ({ action: 'nak', delayMs })
export const term = (reason: string): Outcome => ({ action: 'term', reason })

interface Log {
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface ConsumerLoopOptions {
  consumer: Consumer
  handler: (msg: JsMsg) => Promise<Outcome>
  /** At most this many messages are handled at once; no more are pulled meanwhile. Default 16. */
  concurrency?: number
  /** Delay before the redelivery of a message whose handler threw: base × 2^(attempt-1), jittered. */
  retryBaseDelayMs?: number
  retryMaxDelayMs?: number
  /**
   * On the delivery with this number, a handler error terminates the message instead of a nak;
   * `onGiveUp` is called first, so nothing is dropped silently. Default 10.
   */
  maxAttempts?: number
  onGiveUp?: (msg: JsMsg, error: unknown) => Promise<void>
  /**
   * Declare the durable again (e.g. `() => ensureConsumer(jsm, …)`). When JetStream reports the
   * consumer deleted or missing (an operator, a stream restored without it), the loop calls it
   * with bounded, jittered back-off and pulls again. Without it the loop waits for someone else
   * to declare the consumer.
   */
  redeclare?: () => Promise<unknown>
  /** How long one pull request waits on the server; heartbeats go missing after this. Default 10 s. */
  pullExpiresMs?: number
  log?: Log
  /**
   * The CONSUMER span's name when tracing is on: the handler runs in it, continuing the message's
   * traceparent, or starting a trace when the message has none. Default 'process'.
   */
  name?: string
}

export interface ConsumerLoop {
  /** Stop pulling, let in-flight handlers finish and settle, then resolve. */
  stop: () => Promise<void>
  /** Resolves when the loop has ended (after stop, or if the subscription closes). */
  done: Promise<void>
}

/** Exponential back-off with full jitter: a random delay up to base × 2^(attempt-1), capped. */
export function backoffDelay (attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
}

/**
 * Pull messages from a durable consumer and handle them with bounded concurrency. A message is
 * settled (ack / nak with delay / term) only after its handler returns; a thrown error is a nak
 * with back-off until `maxAttempts`. Back-pressure: no more than `concurrency` are pulled ahead.
 */
export async function startConsumerLoop (options: ConsumerLoopOptions): Promise<ConsumerLoop> {
  const concurrency = options.concurrency ?? 16
  const base = options.retryBaseDelayMs ?? 1000
  const max = options.retryMaxDelayMs ?? 60_000
  const maxAttempts = options.maxAttempts ?? 10
  const log = options.log
  const expires = options.pullExpiresMs ?? 10_000
  const traced = propagatesTraces()
  const spanName = options.name ?? 'process'
  const pull = async (): Promise<ConsumerMessages> => await options.consumer.consume({ max_messages: concurrency, expires })
  let messages: ConsumerMessages = await pull()
  const inFlight = new Set<Promise<void>>()
  let stopping = false
  const stopped = new AbortController()

  /**
   * JetStream's word on the pull: a lost consumer is re-declared (when we can) by ending this
   * pull and starting another; missed heartbeats (a NATS restart, a leader election) and "no
   * responders" (JetStream not answering yet) are logged, and nats.js pulls again by itself.
   */
  function watch (current: ConsumerMessages): { lost: () => string | undefined } {
    let lost: string | undefined
    void (async () => {
      for await (const status of current.status()) {
        if (status.type === 'consumer_deleted' || status.type === 'consumer_not_found') {
          log?.warn({ status: status.type }, options.redeclare === undefined ? 'consumer lost; waiting for it to be declared again' : 'consumer lost; declaring it again')
          if (options.redeclare !== undefined && lost === undefined) {
            lost = status.type
            await current.close().catch(() => {})
            return
          }
        } else if (status.type === 'heartbeats_missed' || status.type === 'no_responders') {
          log?.warn({ status: status.type }, 'JetStream did not answer the pull; pulling again')
        }
      }
    })().catch(() => {})
    return { lost: () => lost }
  }

  async function handle (msg: JsMsg): Promise<void> {
    let outcome: Outcome
    try {
      outcome = traced ? await withMessageSpans(spanName, [msg], async () => await options.handler(msg), { rootWhenUntraced: true }) : await options.handler(msg)
    } catch (error) {
      const attempt = msg.info.deliveryCount
      if (attempt >= maxAttempts) {
        try {
          await options.onGiveUp?.(msg, error)
          msg.term(`gave up after ${attempt} attempts`)
          log?.error({ err: error, subject: msg.subject, seq: msg.seq, attempt }, 'message failed for the last time; terminated')
        } catch (giveUpError) {
          // Could not record the failure: keep the message rather than lose it.
          msg.nak(max)
          log?.error({ err: giveUpError, seq: msg.seq }, 'could not record a failed message; it will be redelivered')
        }
        return
      }
      const delay = backoffDelay(attempt, base, max)
      log?.warn({ err: error, subject: msg.subject, seq: msg.seq, attempt, delay }, 'handler failed; redelivery scheduled')
      msg.nak(delay)
      return
    }
    if (outcome.action === 'ack') await msg.ackAck().catch(() => { msg.ack() })
    else if (outcome.action === 'nak') msg.nak(outcome.delayMs)
    else msg.term(outcome.reason)
  }

  async function redeclare (): Promise<void> {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        await options.redeclare!()
        return
      } catch (error) {
        const delay = backoffDelay(attempt, 250, 5000)
        log?.warn({ err: error, attempt, retryInMs: delay }, 'could not declare the consumer; trying again')
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay)
          stopped.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
        })
      }
    }
  }

  const done = (async () => {
    for (;;) {
      const current = messages
      const status = watch(current)
      for await (const msg of current) {
        if (stopping) {
          // Pulled just before the stop: hand it straight back for another instance.
          msg.nak()
          continue
        }
        const task = handle(msg).finally(() => { inFlight.delete(task) })
        inFlight.add(task)
        if (inFlight.size >= concurrency) await Promise.race(inFlight)
      }
      if (stopping || status.lost() === undefined) break
      await redeclare()
      if (stopping) break
      messages = await pull()
      if (stopping) { await messages.close(); break }
      log?.warn({}, 'consumer declared again; pulling')
    }
    await Promise.allSettled(inFlight)
  })()

  return {
    done,
    async stop () {
      stopping = true
      stopped.abort()
      await messages.close()
      await Promise.allSettled(inFlight)
      await done
    }
  }
}
