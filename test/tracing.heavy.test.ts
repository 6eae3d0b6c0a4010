// One payment, one trace: every service a real process exporting OTLP/JSON to a receiver in this
// test, Dojo played by the sandbox. Heavy: it runs six processes.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { eventsStreamEnv, freePort, natsTestNames, onTeardown, OtlpSpanKind as KIND, roleUrl, spawnService, startOtlpReceiver, startSandbox, TEST_NATS_URL, until, type ReceivedSpan } from '@paylinks/test-kit'

const entry = (service: string): string => fileURLToPath(new URL(`../services/${service}/src/server.ts`, import.meta.url))

t.test('one payment should be one connected trace across link-issuer, NATS, the recorder, Postgres, Dojo, webhook-ingest and the projector', async (t) => {
  const receiver = await startOtlpReceiver(t)
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }
  const { url: databaseUrl } = await createMigratedTestDatabase(t)
  const events = natsTestNames(t, 'tev')
  const orders = natsTestNames(t, 'tord')
  const integration = natsTestNames(t, 'tint')
  const keys = randomBytes(32).toString('base64')
  const shared = {
    ...eventsStreamEnv(events),
    ...otel,
    ORDERS_STREAM: orders.stream,
    ORDERS_SUBJECT_PREFIX: orders.subjectPrefix,
    ORDERS_DURABLE: orders.durable,
    INTEGRATION_STREAM: integration.stream,
    INTEGRATION_SUBJECT_PREFIX: `trc${integration.durable.slice(-10)}`,
    SECRETS_ENCRYPTION_KEYS: keys,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1'
  }
  const sandbox = await startSandbox(t, { ...otel, WEBHOOK_RETRY_DELAYS_MS: '200,500,1000' })

  const db = createDatabase<MerchantTables>({ connectionString: databaseUrl, max: 1 })
  onTeardown(t, () => db.destroy())
  const merchant = await createMerchant(db, createSecretBox([keys]), { name: 'Trace Café', dojoSecretKey: `sk_sandbox_${randomBytes(12).toString('hex')}`, dojoBaseUrl: sandbox.url })
  const apiKey = (await createApiKey(db, { merchantId: merchant.id, label: 'tracing test' })).key

  const roles: Record<string, string> = { 'event-recorder': DATABASE_ROLES.eventRecorder, 'link-issuer': DATABASE_ROLES.linkIssuer, 'webhook-ingest': DATABASE_ROLES.webhookIngest, projector: DATABASE_ROLES.projector }
  const [recorderPort, issuerPort, ingestPort, projectorPort] = await Promise.all([1, 2, 3, 4].map(freePort))
  const url = (port: number | undefined): string => `http://127.0.0.1:${port!}`
  const start = (service: string, port: number | undefined, extra: Record<string, string> = {}): ReturnType<typeof spawnService> =>
    spawnService(t, entry(service), { ...shared, DATABASE_URL: roleUrl(databaseUrl, roles[service]!), PORT: String(port), ...extra })
  const recorder = start('event-recorder', recorderPort)
  // Info, so that its request logs show whether they carry the trace id.
  const issuer = start('link-issuer', issuerPort, { PUBLIC_URL: url(issuerPort), LOG_LEVEL: 'info' })
  const ingest = start('webhook-ingest', ingestPort, { PUBLIC_URL: url(ingestPort), RECONCILE_INTERVAL_MS: '60000', RECONCILE_QUIET_AFTER_MS: '60000' })
  const projector = start('projector', projectorPort, { PROJECTION_RECONCILE_MS: '200' })
  await Promise.all(([[recorder, recorderPort], [issuer, issuerPort], [ingest, ingestPort], [projector, projectorPort]] as const).map(async ([service, port]) => {
    await until(async () => {
      if (service.child.exitCode !== null) throw new Error(`a service exited: ${service.output().slice(-2000)}`)
      return await fetch(`${url(port)}/readyz`).then((r) => r.ok, () => false)
    }, { what: `service on ${port!} ready`, timeoutMs: 60_000, intervalMs: 100 })
  }))

  // An order system following the integration stream, keeping each message's traceparent.
  const nc = await connect({ servers: TEST_NATS_URL })
  onTeardown(t, () => nc.close())
  const received: Array<{ body: Record<string, any>, traceparent: string }> = []
  const messages = await (await jetstream(nc).consumers.get(integration.stream)).consume()
  onTeardown(t, async () => { await messages.close() })
  void (async () => { for await (const m of messages) received.push({ body: m.json(), traceparent: m.headers?.get('traceparent') ?? '' }) })()

  const reference = `trace-${randomBytes(4).toString('hex')}`
  const created = await fetch(`${url(issuerPort)}/v1/payment-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': reference },
    body: JSON.stringify({ reference, amount: { value: 1500, currencyCode: 'GBP' }, description: 'Traced espresso' })
  })
  t.equal(created.status, 201)
  const link = await created.json() as { id: string, paymentIntentId: string }
  await sandbox.pay(link.paymentIntentId)
  const paid = await until(() => received.find((m) => m.body.type === 'payment.status-changed' && m.body.linkId === link.id && m.body.status === 'paid'),
    { what: 'paid reached the order system', timeoutMs: 60_000, intervalMs: 100 })

  // The trace begins at the partner's request.
  const root = await until(() => receiver.spans.find((s) => s.service === 'link-issuer' && s.kind === KIND.server && s.name === 'POST /v1/payment-links'),
    { what: 'the request span exported', timeoutMs: 30_000, intervalMs: 100 })
  const traceId = root.traceId
  t.equal(paid.traceparent.split('-')[1], traceId, 'the status change reaches the order system carrying the trace')
  const inTrace = (): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId)
  // Wait until the last hops (the integration publish of "paid", the projections) are exported,
  // and every exported span's parent with them: spans go out in batches as they end, and a
  // parent ends after its children (a transaction's BEGIN before the confirmation around it).
  await until(() => {
    const spans = inTrace()
    const exported = new Set(spans.map((s) => s.spanId))
    return spans.every((s) => s.parentSpanId === '' || exported.has(s.parentSpanId)) && spans.some((s) => s.service === 'projector' && s.kind === KIND.producer && s.attributes['messaging.message.id'] === paid.body.id) &&
      spans.filter((s) => s.service === 'event-recorder').length >= 3 &&
      spans.some((s) => s.service === 'webhook-ingest' && s.name === 'confirm payment status')
  }, { what: 'the payment\'s spans exported', timeoutMs: 30_000, intervalMs: 200 })
  const spans = inTrace()

  // Connected: one root, and every other span's parent is in the trace.
  const ids = new Set(spans.map((s) => s.spanId))
  const roots = spans.filter((s) => s.parentSpanId === '')
  t.same(roots.map((s) => s.spanId), [root.spanId], 'the partner request is the one root')
  const orphans = spans.filter((s) => s.parentSpanId !== '' && !ids.has(s.parentSpanId))
  t.same(orphans.map((s) => `${s.service}: ${s.name}`), [], 'every span\'s parent is in the trace')

  const services = new Set(spans.map((s) => s.service))
  for (const service of ['link-issuer', 'event-recorder', 'webhook-ingest', 'projector', 'dojo-sandbox']) t.ok(services.has(service), `${service} has spans in the trace`)
  const has = (what: string, test: (s: ReceivedSpan) => boolean): void => { t.ok(spans.some(test), what) }
  has('link-issuer publishes (PRODUCER)', (s) => s.service === 'link-issuer' && s.kind === KIND.producer)
  has('the recorder consumes (CONSUMER)', (s) => s.service === 'event-recorder' && s.kind === KIND.consumer)
  has('the recorder\'s insert is a Postgres span', (s) => s.service === 'event-recorder' && s.attributes['db.system.name'] === 'postgresql')
  has('link-issuer\'s queries are Postgres spans', (s) => s.service === 'link-issuer' && s.attributes['db.system.name'] === 'postgresql')
  has('link-issuer creates the intent at Dojo (CLIENT)', (s) => s.service === 'link-issuer' && s.kind === KIND.client && s.name === 'dojo POST /payment-intents')
  has('the sandbox serves that call in the same trace', (s) => s.service === 'dojo-sandbox' && s.kind === KIND.server)
  has('webhook-ingest confirms with Dojo (CLIENT)', (s) => s.service === 'webhook-ingest' && s.kind === KIND.client && s.name.startsWith('dojo GET'))
  has('webhook-ingest publishes the status change', (s) => s.service === 'webhook-ingest' && s.kind === KIND.producer)
  has('the projector applies events from the store', (s) => s.service === 'projector' && s.kind === KIND.consumer && s.name.startsWith('apply '))

  // The webhook's own trace (Dojo sends no traceparent) is linked from the confirmation.
  const confirm = spans.find((s) => s.name === 'confirm payment status')!
  t.equal(confirm.links.length, 1, 'the confirmation links the webhook that caused it')
  const webhookTrace = receiver.spans.filter((s) => s.traceId === confirm.links[0]?.traceId)
  t.ok(webhookTrace.some((s) => s.service === 'webhook-ingest' && s.kind === KIND.server && s.parentSpanId === '' && s.name.startsWith('POST ')), 'the linked trace begins at the webhook request')
  t.ok(webhookTrace.some((s) => s.spanId === confirm.links[0]?.spanId), 'the link points at a span of that trace')

  // Logs carry the trace id.
  const lines = issuer.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.ok(lines.some((l) => l.trace_id === traceId), 'a link-issuer log line carries the trace id')
})
