import { createRequire } from 'node:module'
import t from 'tap'
import Fastify from 'fastify'
import { context, propagation, trace } from '@opentelemetry/api'
import { ConfigError } from '../src/errors.js'
import { loadConfig, serverOptions, ServerConfigSchema, startTracing, traceRequests, tracesUrl, tracingEnabled, TracingConfigSchema } from '../src/index.js'

t.test('tracesUrl should follow the standard OTLP variables', async (t) => {
  const url = (env: Record<string, string>): string | undefined => tracesUrl(loadConfig(TracingConfigSchema, env))
  t.equal(url({}), undefined, 'no endpoint: off')
  t.equal(url({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), 'http://collector:4318/v1/traces')
  t.equal(url({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' }), 'http://jaeger:4318/v1/traces', 'the traces endpoint wins, used as is')
  t.equal(url({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }), undefined, 'OTEL_SDK_DISABLED turns it off')
  t.throws(() => loadConfig(TracingConfigSchema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), ConfigError, 'an endpoint that is not a URL is named at boot')
})

t.test('startTracing without an endpoint should start no SDK, and spans should be no-ops', async (t) => {
  const tracing = await startTracing({ serviceName: 'test', env: {} })
  t.equal(tracing.enabled, false)
  t.equal(tracingEnabled(), false)
  t.same(propagation.fields(), [], 'no propagator registered: publishers put nothing in headers or metadata')
  const span = trace.getTracer('test').startSpan('nothing')
  t.equal(span.isRecording(), false, 'the no-op tracer')
  // No context manager either: a span set in a context is not carried into later callbacks.
  await context.with(trace.setSpan(context.active(), span), async () => {
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(trace.getActiveSpan(), undefined, 'no context manager')
  })
  // The SDK is loaded only when used (it is CommonJS: a load would show in the require cache).
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /@opentelemetry[/+](sdk-trace|exporter-trace)/.test(path))
  t.same(loaded, [], 'no SDK or exporter module was loaded')

  const app = Fastify(serverOptions(loadConfig(ServerConfigSchema, { LOG_LEVEL: 'silent' })))
  traceRequests(app)
  let active: unknown = 'not called'
  app.get('/x', async () => { active = trace.getActiveSpan(); return { ok: true } })
  t.teardown(async () => { await app.close() })
  const res = await app.inject({ url: '/x', headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })
  t.equal(res.statusCode, 200)
  t.equal(active, undefined, 'a request is not traced, even with an incoming traceparent')
  await tracing.shutdown()
})
