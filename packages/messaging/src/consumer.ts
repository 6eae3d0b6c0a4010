import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'

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
  log?: Log
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
  const messages: ConsumerMessages = await options.consumer.consume({ max_messages: concurrency })
  const inFlight = new Set<Promise<void>>()
  let stopping = false

  async function handle (msg: JsMsg): Promise<void> {
    let outcome: Outcome
    try {
      outcome = await options.handler(msg)
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

  const done = (async () => {
    for await (const msg of messages) {
      if (stopping) {
        // Pulled just before the stop: hand it straight back for another instance.
        msg.nak()
        continue
      }
      const task = handle(msg).finally(() => { inFlight.delete(task) })
      inFlight.add(task)
      if (inFlight.size >= concurrency) await Promise.race(inFlight)
    }
    await Promise.allSettled(inFlight)
  })()

  return {
    done,
    async stop () {
      stopping = true
      await messages.close()
      await Promise.allSettled(inFlight)
      await done
    }
  }
}
