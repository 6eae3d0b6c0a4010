import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api'
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node'
import type { JsMsg } from '@nats-io/jetstream'

export const tracer = trace.getTracer('@paylinks/messaging')

/**
 * True when this process propagates trace context (service-kit's startTracing registered a
 * propagator). Read once when a publisher or reader is made: with tracing off the hot paths
 * never touch the OpenTelemetry API at all.
 */
export function propagatesTraces (): boolean {
  return propagation.fields().length > 0
}

const headerGetter: TextMapGetter<MsgHdrs> = {
  keys: (carrier) => carrier.keys(),
  get: (carrier, key) => {
    const value = carrier.get(key)
    return value === '' ? undefined : value
  }
}
const headerSetter: TextMapSetter<MsgHdrs> = { set: (carrier, key, value) => { carrier.set(key, value) } }

/** Write the context's trace context (traceparent, tracestate) into message headers. */
export function injectHeaders (ctx: Context, headers: MsgHdrs): void {
  propagation.inject(ctx, headers, headerSetter)
}

/** The trace context of a message's headers, or undefined when it carries none. */
export function messageContext (msg: JsMsg): Context | undefined {
  const headers = msg.headers
  if (headers === undefined || headers.get('traceparent') === '') return undefined
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter)
}

/** The trace context as a plain record (`traceparent`, `tracestate`), e.g. for event metadata. */
export function traceFields (ctx: Context): Record<string, string> {
  const fields: Record<string, string> = {}
  propagation.inject(ctx, fields)
  return fields
}

/**
 * Run `fn` inside one CONSUMER span per message that carries trace context, each the child of
 * its message's producer span, so every message's trace continues here. Work that `fn` does for
 * the batch as a whole (one insert, one commit) runs in the first span's context. With
 * `rootWhenUntraced`, a message from outside (an order system that does not trace) starts a
 * trace of its own here.
 */
export async function withMessageSpans<T> (name: string, msgs: readonly JsMsg[], fn: () => Promise<T>, options: { rootWhenUntraced?: boolean } = {}): Promise<T> {
  let spans: Span[] | undefined
  for (const msg of msgs) {
    const parent = messageContext(msg) ?? (options.rootWhenUntraced === true ? ROOT_CONTEXT : undefined)
    if (parent === undefined) continue
    spans ??= []
    spans.push(tracer.startSpan(name, {
      kind: SpanKind.CONSUMER,
      attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'process', 'messaging.destination.name': msg.subject, 'messaging.message.id': msg.headers?.get('Nats-Msg-Id') ?? '', 'messaging.batch.message_count': msgs.length }
    }, parent))
  }
  if (spans === undefined) return await fn()
  try {
    return await context.with(trace.setSpan(ROOT_CONTEXT, spans[0]!), fn)
  } catch (error) {
    for (const span of spans) failed(span, error)
    throw error
  } finally {
    for (const span of spans) span.end()
  }
}

/**
 * Publish a message of our own making (not an event: an integration message, say) in a PRODUCER
 * span, child of `parent`, its trace context in the headers `fn` sends with, so that whoever
 * consumes it can continue the trace.
 */
export async function withProducerSpan<T> (name: string, subject: string, messageId: string, parent: Context, fn: (headers: MsgHdrs) => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, {
    kind: SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'send', 'messaging.destination.name': subject, 'messaging.message.id': messageId }
  }, parent)
  const ctx = trace.setSpan(parent, span)
  const headers = natsHeaders()
  injectHeaders(ctx, headers)
  try {
    return await context.with(ctx, async () => await fn(headers))
  } catch (error) {
    failed(span, error)
    throw error
  } finally {
    span.end()
  }
}

/**
 * Mark a span failed by the error's code or name. Not its message or stack: they may quote
 * data, and spans leave the process.
 */
export function failed (span: Span, error: unknown): void {
  const code = (error as { code?: unknown }).code
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : error instanceof Error ? error.name : 'error' })
}
