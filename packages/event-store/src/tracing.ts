import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span } from '@opentelemetry/api'
import type pg from 'pg'
import type { EventMetadata } from '@paylinks/contracts'

const tracer = trace.getTracer('@paylinks/event-store')

/**
 * True when this process propagates trace context (service-kit's startTracing registered a
 * propagator). Read once when a pool or subscriber is made: with tracing off nothing here runs.
 */
export function propagatesTraces (): boolean {
  return propagation.fields().length > 0
}

/** The trace an event was published in (its metadata's traceparent), or undefined. */
export function eventTraceContext (event: { metadata: EventMetadata }): Context | undefined {
  if (event.metadata.traceparent === undefined) return undefined
  return propagation.extract(ROOT_CONTEXT, event.metadata)
}

/** A span link to the trace an event was published in, or undefined. */
export function eventTraceLink (event: { metadata: EventMetadata }): Link | undefined {
  const ctx = eventTraceContext(event)
  const spanContext = ctx === undefined ? undefined : trace.getSpanContext(ctx)
  return spanContext === undefined ? undefined : { context: spanContext }
}

function fail (span: Span, error: unknown): void {
  // The code or name only: messages may quote data, and spans leave the process.
  const code = (error as { code?: unknown }).code
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : error instanceof Error ? error.name : 'error' })
}

/**
 * Run `fn` inside one span per event that carries trace context, each the child of the span
 * that published its event, so that a reader of the store continues every event's trace. Work
 * done for the whole batch (its queries, its commit) runs in the first span's context. Events
 * without trace context add nothing.
 */
export async function withEventSpans<T> (name: string, events: ReadonlyArray<{ id: string, type: string, position: number, metadata: EventMetadata }>, fn: () => Promise<T>): Promise<T> {
  let spans: Span[] | undefined
  for (const event of events) {
    const parent = eventTraceContext(event)
    if (parent === undefined) continue
    spans ??= []
    spans.push(tracer.startSpan(name, {
      kind: SpanKind.CONSUMER,
      attributes: { 'paylinks.event.id': event.id, 'paylinks.event.type': event.type, 'paylinks.event.position': event.position, 'paylinks.batch.size': events.length }
    }, parent))
  }
  if (spans === undefined) return await fn()
  try {
    return await context.with(trace.setSpan(ROOT_CONTEXT, spans[0]!), fn)
  } catch (error) {
    for (const span of spans) fail(span, error)
    throw error
  } finally {
    for (const span of spans) span.end()
  }
}

type Query = (...args: unknown[]) => unknown

/**
 * A CLIENT span for each query a pool client sends while a span is active (a request, a
 * message, an event being handled); queries outside any trace (polls, heartbeats) add none.
 * The span carries the statement as sent, parameters apart, so no value is in it.
 */
export function traceQueries (client: pg.PoolClient | pg.Client, database: string): void {
  const original = client.query.bind(client) as Query
  const traced: Query = (...args) => {
    const [config, values, callback] = args as [unknown, unknown, unknown]
    const parent = context.active()
    if (trace.getSpan(parent) === undefined || typeof callback === 'function' || typeof values === 'function' ||
      (typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function')) {
      return original(...args)
    }
    const text = typeof config === 'string' ? config : String((config as { text?: unknown } | null)?.text ?? '')
    const operation = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY'
    const span = tracer.startSpan(`${operation} ${database}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.namespace': database, 'db.operation.name': operation, 'db.query.text': text.length > 2000 ? `${text.slice(0, 2000)}…` : text }
    }, parent)
    const result = original(...args) as Promise<unknown>
    return result.then((value) => { span.end(); return value }, (error: unknown) => { fail(span, error); span.end(); throw error })
  }
  client.query = traced as typeof client.query
}
