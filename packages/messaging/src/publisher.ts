import { setTimeout as sleep } from 'node:timers/promises'
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream'
import type { EventRegistry, NewEvent } from '@paylinks/contracts'
import pRetry from 'p-retry'
import { context, SpanKind, trace, type Context } from '@opentelemetry/api'
import { encodeEvent, eventHeaders, subjectFor } from './codec.js'
import { MessagingError, MessagingErrorCodes } from './errors.js'
import { failed, injectHeaders, propagatesTraces, traceFields, tracer } from './tracing.js'

export interface PublisherOptions {
  js: JetStreamClient
  /** Events go to `<subjectPrefix>.<streamId>`; the stream must capture `<subjectPrefix>.>`. */
  subjectPrefix: string
  /** Every event is validated against it before it leaves the process. */
  registry: EventRegistry<any>
  /** Per attempt. Default 5000 ms. */
  timeoutMs?: number
  /** Further attempts after a timeout or a lost connection. Default 3. */
  retries?: number
  /** First back-off delay; doubled each time, with jitter. Default 100 ms. */
  retryDelayMs?: number
  /**
   * Hold publishes until the event loop has handled every I/O callback that is ready, then send
   * them together: one socket write for a burst instead of one per caller. Default true.
   */
  coalesce?: boolean
}

export interface PublishedEvent {
  eventId: string
  /** The JetStream stream sequence: the event's global position once recorded. */
  seq: number
  /** True when JetStream had this event id already (within its duplicate window). */
  duplicate: boolean
}

export interface PublishOptions {
  /**
   * The sequence of the last event on this stream's subject that the decision was based on (0
   * for a new stream). When another event landed since, the publish fails with MSG_CONCURRENCY.
   * When JetStream's window has dropped every message of the subject (a decision on a link older
   * than `EVENTS_MAX_AGE_HOURS`), the expectation is that the subject is still empty.
   */
  expectedLastSubjectSequence?: number
}

export interface EventPublisher {
  /**
   * Publish events in order; resolves once JetStream has acknowledged every one. With an
   * expected sequence, all events must share one stream: the first is checked against the
   * expectation, each next one against the sequence of the one before it.
   */
  publish: (events: NewEvent[], options?: PublishOptions) => Promise<PublishedEvent[]>
}

/** The one way services publish events: validated, de-duplicated by id, optionally conditional. */
export function createEventPublisher (options: PublisherOptions): EventPublisher {
  const timeout = options.timeoutMs ?? 5000
  const retries = options.retries ?? 3
  const minTimeout = options.retryDelayMs ?? 100
  const nextTurn = options.coalesce === false ? undefined : createTurnGate()
  const traced = propagatesTraces()

  /**
   * With tracing on, each event is published in a PRODUCER span whose context travels twice:
   * in the message headers (the recorder's consumer span continues it) and in the event's
   * metadata (kept in the store, so readers of the store continue it too).
   */
  async function publishTraced (event: NewEvent, expected: number | undefined): Promise<PublishedEvent> {
    const span = tracer.startSpan(`publish ${options.subjectPrefix}`, {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'send', 'messaging.destination.name': subjectFor(options.subjectPrefix, event.streamId), 'messaging.message.id': event.id, 'paylinks.event.type': event.type }
    })
    const ctx = trace.setSpan(context.active(), span)
    const { traceparent, tracestate } = traceFields(ctx)
    const withTrace: NewEvent = traceparent === undefined
      ? event
      : { ...event, metadata: { ...event.metadata, traceparent, ...(tracestate === undefined ? {} : { tracestate }) } }
    try {
      const published = await context.with(ctx, async () => await publishOne(withTrace, expected, ctx))
      if (published.duplicate) span.setAttribute('paylinks.duplicate', true)
      return published
    } catch (error) {
      failed(span, error)
      throw error
    } finally {
      span.end()
    }
  }

  async function publishOne (event: NewEvent, expected: number | undefined, traceContext?: Context): Promise<PublishedEvent> {
    const subject = subjectFor(options.subjectPrefix, event.streamId)
    const payload = encodeEvent(event)
    const headers = eventHeaders(event)
    if (traceContext !== undefined) injectHeaders(traceContext, headers)
    // No responders: no stream captures the subject, or the stream has no leader this moment (a
    // cluster electing one after a node died: seconds). Nothing was stored, so wait for a leader
    // as long as all attempts could take, then report it as a refusal (MSG_PUBLISH).
    const leaderDeadline = Date.now() + timeout * Math.max(retries, 1)
    const attempt = async (): Promise<PublishedEvent> => {
      for (let wait = 25; ; wait = Math.min(wait * 2, 400)) {
        try {
          const ack = await options.js.publish(subject, payload, {
            msgID: event.id,
            timeout,
            headers,
            ...(expected === undefined ? {} : { expect: { lastSubjectSequence: expected } })
          })
          return { eventId: event.id, seq: ack.seq, duplicate: ack.duplicate }
        } catch (error) {
          if (isNoResponders(error) && Date.now() + wait < leaderDeadline) {
            await sleep(wait / 2 + Math.random() * wait / 2)
            continue
          }
          throw classify(error, event, subject, expected)
        }
      }
    }
    try {
      // The first attempt runs bare: a retry wrapper on the hot path costs a quarter of the rate.
      return await attempt()
    } catch (error) {
      if (expected !== undefined && expected > 0 && lastSequenceOf(error) === 0) {
        // The stream's window has dropped every message of this subject: the decision was made on
        // the store's record (position `expected`), which JetStream no longer holds, so "nothing
        // since" is now "no message on the subject". A rival that published in between makes the
        // subject non-empty and this fails as an ordinary lost race.
        return await publishOne(event, 0, traceContext)
      }
      if (!isRetryable(error) || retries === 0) throw error
    }
    // A retry is safe: the event id is the message id, so a publish that did land is answered as
    // a duplicate. Only time-outs and lost connections are worth another try.
    return await pRetry(attempt, { retries: retries - 1, minTimeout, factor: 2, randomize: true, shouldRetry: ({ error }) => isRetryable(error) })
  }

  return {
    async publish (events, publishOptions = {}) {
      const parsed = events.map((event) => options.registry.parse(event))
      let expected = publishOptions.expectedLastSubjectSequence
      if (expected !== undefined && new Set(parsed.map((e) => e.streamId)).size > 1) {
        throw new MessagingError(MessagingErrorCodes.publish, 'an expected sequence applies to one stream; these events span several')
      }
      if (nextTurn !== undefined) await nextTurn()
      const results: PublishedEvent[] = []
      for (const event of parsed) {
        const result = traced ? await publishTraced(event, expected) : await publishOne(event, expected)
        results.push(result)
        if (expected !== undefined) expected = result.seq
      }
      return results
    }
  }
}

/**
 * nats.js writes its buffer to the socket in a microtask after each publish, so callers woken by
 * separate I/O callbacks (HTTP requests, say) each cost a write syscall. Callers that await the
 * gate resume together in the check phase, after the poll phase has run every ready callback,
 * and their publishes share one write.
 */
function createTurnGate (): () => Promise<void> {
  let pending: Promise<void> | undefined
  return async () => {
    pending ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        pending = undefined
        resolve()
      })
    })
    return await pending
  }
}

/** The subject's last sequence that JetStream reported when it refused an expected one. */
function lastSequenceOf (error: unknown): number | undefined {
  return (error as MessagingError).code === MessagingErrorCodes.concurrency ? (error as MessagingError).details.actual as number | undefined : undefined
}

/** nats.js reports a JetStream publish nobody answered (no stream leader) as JetStreamNotEnabled. */
function isNoResponders (error: unknown): boolean {
  return error instanceof Error && (error.name === 'JetStreamNotEnabled' || /no responders/i.test(error.message))
}

function isRetryable (error: unknown): boolean {
  return (error as MessagingError).code === MessagingErrorCodes.timeout
}

function classify (error: unknown, event: NewEvent, subject: string, expected: number | undefined): MessagingError {
  if (error instanceof JetStreamApiError) {
    if (error.code === JetStreamApiCodes.StreamWrongLastSequence) {
      // nats-server says "wrong last sequence: <n>", n being the subject's last sequence now.
      const actual = /wrong last sequence: (\d+)/.exec(error.message)?.[1]
      return new MessagingError(MessagingErrorCodes.concurrency,
        `stream ${event.streamId} moved on: expected last sequence ${String(expected)}, ${error.message}`,
        { cause: error, details: { streamId: event.streamId, expected, ...(actual === undefined ? {} : { actual: Number(actual) }) } })
    }
    return new MessagingError(MessagingErrorCodes.publish, `JetStream refused event ${event.id} on ${subject}: ${error.message}`, { cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  const name = error instanceof Error ? error.name : ''
  if (/timeout|timed out|no responders|disconnect|closed|reconnect/i.test(`${name} ${message}`)) {
    return new MessagingError(MessagingErrorCodes.timeout, `no acknowledgement for event ${event.id} on ${subject}: ${message}`, { cause: error })
  }
  return new MessagingError(MessagingErrorCodes.publish, `could not publish event ${event.id} on ${subject}: ${message}`, { cause: error })
}
