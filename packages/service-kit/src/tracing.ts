import { context, propagation, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from './config.js'

/** The standard OpenTelemetry variables we honour. With neither endpoint set, tracing is off. */
export const TracingConfigSchema = Type.Object({
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'OTLP/HTTP base URL; traces go to <it>/v1/traces' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'OTLP/HTTP traces URL, used as is' })),
  OTEL_SERVICE_NAME: Type.Optional(Type.String({ minLength: 1 })),
  OTEL_SDK_DISABLED: Type.Boolean({ default: false })
})
export type TracingConfig = Static<typeof TracingConfigSchema>

export interface Tracing {
  /** True when an SDK was started (an endpoint is configured). */
  enabled: boolean
  /** Where spans are sent, when enabled. */
  url: string | undefined
  /** Export what is buffered and stop; safe to call when disabled. */
  shutdown: () => Promise<void>
}

let started: Tracing | undefined

/** True once `startTracing` started an SDK in this process: spans are recorded and exported. */
export function tracingEnabled (): boolean {
  return started?.enabled === true
}

/** The traces URL the variables name, or undefined when tracing is off. */
export function tracesUrl (config: TracingConfig): string | undefined {
  if (config.OTEL_SDK_DISABLED) return undefined
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`
  return undefined
}

/**
 * Start OpenTelemetry for this process when an OTLP endpoint is configured: a tracer provider
 * with an async-local context, W3C trace-context propagation and a batching OTLP/HTTP (JSON)
 * exporter. Without an endpoint nothing is loaded or started, and @opentelemetry/api's no-op
 * tracer makes every span in our code free. Call once, before the app is built.
 */
export async function startTracing (options: { serviceName: string, env?: Record<string, string | undefined> }): Promise<Tracing> {
  if (started !== undefined) return started
  const config = loadConfig(TracingConfigSchema, options.env)
  const url = tracesUrl(config)
  if (url === undefined) {
    started = { enabled: false, url: undefined, shutdown: async () => {} }
    return started
  }
  // Loaded only when used: a process without an endpoint never pays for the SDK.
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { W3CTraceContextPropagator }, { ATTR_SERVICE_NAME }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/semantic-conventions')
  ])
  // The exporter times out each export (10 s) and retries refused ones a bounded number of
  // times with jittered back-off; the batch queue is bounded, so a dead collector costs spans, not memory.
  const exporter = new OTLPTraceExporter({ url, timeoutMillis: 10_000 })
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.OTEL_SERVICE_NAME ?? options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 4096, scheduledDelayMillis: 1000 })]
  })
  // Trace context only: baggage would put caller-chosen data into event metadata.
  provider.register({ propagator: new W3CTraceContextPropagator() })
  started = {
    enabled: true,
    url,
    shutdown: async () => { await provider.shutdown() }
  }
  return started
}

/** Our tracer; a no-op one unless `startTracing` started an SDK. */
export const tracer = trace.getTracer('paylinks')

const NOT_TRACED = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * A SERVER span per HTTP request, continuing an incoming `traceparent`, active while the
 * request is handled so that its Postgres, NATS and Dojo calls are its children. Hooks, not
 * patching: works the same under tsx and in the esbuild bundle. Registered only when tracing
 * is on, so a disabled service runs exactly the hooks it ran before.
 */
export function traceRequests (app: FastifyInstance): void {
  if (!tracingEnabled()) return
  const spans = new WeakMap<FastifyRequest, Span>()
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url
    if (route !== undefined && NOT_TRACED.has(route)) { done(); return }
    const parent = propagation.extract(context.active(), request.headers)
    const span = tracer.startSpan(`${request.method} ${route ?? 'unknown route'}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route ?? '', 'url.path': request.url.split('?')[0] ?? '' }
    }, parent)
    spans.set(request, span)
    // The rest of the request (hooks, handler) runs inside the span's context.
    context.with(trace.setSpan(parent, span), done)
  })
  const end = (request: FastifyRequest, reply: FastifyReply | undefined): void => {
    const span = spans.get(request)
    if (span === undefined) return
    spans.delete(request)
    if (reply === undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted' })
    } else {
      span.setAttribute('http.response.status_code', reply.statusCode)
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end()
  }
  app.addHook('onResponse', (request, reply, done) => { end(request, reply); done() })
  app.addHook('onRequestAbort', (request, done) => { end(request, undefined); done() })
}

/**
 * pino mixin: the active span's trace and span id on every log line written inside it. (pino
 * merges the line into the object returned, so it is a new one each time.)
 */
export function traceIds (): Record<string, string> {
  const span = trace.getActiveSpan()
  if (span === undefined) return {}
  const { traceId, spanId } = span.spanContext()
  return { trace_id: traceId, span_id: spanId }
}
