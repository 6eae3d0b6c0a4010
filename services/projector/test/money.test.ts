import { randomBytes } from 'node:crypto'
import t from 'tap'
import { paymentLinkStream, type NewEvent } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { connectMessaging, createEventPublisher, ensureStream, eventsStreamOptions } from '@paylinks/messaging'
import { loadConfig } from '@paylinks/service-kit'
import { eventsStreamEnv, natsTestNames, onTeardown, roleUrl, startRecorder, TEST_NATS_URL, until } from '@paylinks/test-kit'
import { ProjectorConfigSchema } from '../src/config.js'
import { buildProjector, registry } from './helpers.js'

// Refunds, captures and releases as the services record them (each published by its owner),
// seen in every read model the projector serves: payments, timeline, daily figures, the
// dashboard, and the integration events order systems receive.
const merchantId = 'mer_money001'
const byIssuer = { correlationId: 'money', producer: 'link-issuer' }
const byIngest = { correlationId: 'money', producer: 'webhook-ingest' }
const GBP = (value: number) => ({ value, currencyCode: 'GBP' as const })

const { url } = await createMigratedTestDatabase(t)
const owner = createDatabase<MerchantTables>({ connectionString: url, max: 1 })
onTeardown(t, () => owner.destroy())
await createMerchant(owner, createSecretBox([randomBytes(32).toString('base64')]), { id: merchantId, name: 'Money shop', dojoSecretKey: 'sk_sandbox_testkey123', dojoBaseUrl: 'http://127.0.0.1:4010' })
const apiKey = (await createApiKey(owner, { merchantId })).key
const events = natsTestNames(t, 'mev')
const integration = natsTestNames(t, 'mint')
const env = {
  DATABASE_URL: roleUrl(url, DATABASE_ROLES.projector),
  ...eventsStreamEnv(events),
  INTEGRATION_STREAM: integration.stream,
  INTEGRATION_SUBJECT_PREFIX: `m${integration.durable.slice(-10)}`,
  LOG_LEVEL: 'warn',
  PORT: '0',
  PROJECTION_RECONCILE_MS: '50'
}
const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'projector-money-test' })
onTeardown(t, () => messaging.close())
await ensureStream(messaging.jsm, eventsStreamOptions(loadConfig(ProjectorConfigSchema, env)))
await startRecorder(t, env)
const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: events.subjectPrefix, registry })
const store = await createEventStore({ connectionString: env.DATABASE_URL, registry, pollIntervalMs: 200 })
onTeardown(t, () => store.close())
const app = await buildProjector(t, env)

const received: Array<Record<string, any>> = []
const consumer = await messaging.js.consumers.get(env.INTEGRATION_STREAM)
const messages = await consumer.consume()
onTeardown(t, async () => { await messages.close() })
void (async () => { for await (const m of messages) received.push(m.json()) })()

/** Publish a link's history, each event on the sequence of the one before. */
async function history (linkId: string, make: (streamId: string, pi: string) => NewEvent[]): Promise<void> {
  let seq = 0
  for (const event of make(paymentLinkStream(linkId), `pi_sandbox_${linkId.slice(4, 26)}`)) seq = (await publisher.publish([event], { expectedLastSubjectSequence: seq }))[0]!.seq
}
const start = (linkId: string, streamId: string, pi: string, value: number, manual = false): NewEvent[] => [
  registry.create('payment-link.requested', { linkId, merchantId, reference: `ref-${linkId.slice(-6)}`, amount: GBP(value), expiresAt: '2030-01-01T00:00:00.000Z', sendEmail: false, source: 'order', orderId: `ord-${linkId.slice(-6)}`, ...(manual ? { captureMode: 'Manual' as const, autoExpireAction: 'Release' as const } : {}) }, { streamId, metadata: byIssuer }),
  registry.create('payment-link.issued', { linkId, merchantId, paymentIntentId: pi, url: `http://127.0.0.1:4010/checkout/${pi}`, expiresAt: '2030-01-01T00:00:00.000Z' }, { streamId, metadata: byIssuer }),
  registry.create('payment-link.status-changed', { linkId, paymentIntentId: pi, from: 'issued', to: manual ? 'authorized' : 'paid', dojoStatus: manual ? 'Authorized' : 'Captured', amount: GBP(value), capturedAmount: manual ? 0 : value, refundedAmount: 0, source: 'webhook', observedAt: new Date().toISOString() }, { streamId, metadata: byIngest })
]
const now = (): string => new Date().toISOString()
const newLinkId = (): string => `lnk_${randomBytes(12).toString('base64url')}`

t.test('refunds, captures and releases should show in payments, timeline, daily figures, dashboard and integration events', async (t) => {
  const [auto, manual, released] = [newLinkId(), newLinkId(), newLinkId()]
  await history(auto, (streamId, pi) => [
    ...start(auto, streamId, pi, 2000),
    registry.create('payment-link.refunded', { linkId: auto, paymentIntentId: pi, refundId: 'rfnd_api_1', amount: GBP(500), refundedAmount: 500, capturedAmount: 2000, source: 'api', observedAt: now(), requestId: 'refund:abc' }, { streamId, metadata: byIssuer }),
    registry.create('payment-link.refunded', { linkId: auto, paymentIntentId: pi, refundId: 'dojo-refunded-2000', amount: GBP(1500), refundedAmount: 2000, capturedAmount: 2000, source: 'reconciler', observedAt: now() }, { streamId, metadata: byIngest })
  ])
  await history(manual, (streamId, pi) => [
    ...start(manual, streamId, pi, 3000, true),
    registry.create('payment-link.captured', { linkId: manual, paymentIntentId: pi, captureId: 'cp_1', amount: GBP(1000), capturedAmount: 1000, source: 'api', observedAt: now() }, { streamId, metadata: byIssuer }),
    registry.create('payment-link.captured', { linkId: manual, paymentIntentId: pi, captureId: 'cp_2', amount: GBP(2000), capturedAmount: 3000, source: 'webhook', observedAt: now() }, { streamId, metadata: byIngest })
  ])
  await history(released, (streamId, pi) => [
    ...start(released, streamId, pi, 700, true),
    registry.create('payment-link.released', { linkId: released, paymentIntentId: pi, reversalId: 'rvs_1', source: 'api', observedAt: now() }, { streamId, metadata: byIssuer })
  ])
  const get = async (path: string): Promise<any> => (await app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${apiKey}` } })).json()
  await until(async () => (await get(`/v1/payments/${released}`)).status === 'released' && (await get(`/v1/payments/${auto}`)).status === 'refunded' && (await get(`/v1/payments/${manual}`)).capturedAmount === 3000, 30_000, 'projected')

  t.match(await get(`/v1/payments/${auto}`), { status: 'refunded', captureMode: 'Auto', capturedAmount: 2000, refundedAmount: 2000 })
  t.match(await get(`/v1/payments/${manual}`), { status: 'captured', captureMode: 'Manual', capturedAmount: 3000, refundedAmount: 0 })
  t.match(await get(`/v1/payments/${released}`), { status: 'released', capturedAmount: 0 })
  t.same((await get('/v1/payments?status=partially_refunded')).data, [], 'the status filter knows the new statuses')

  const steps = (await get(`/v1/payments/${auto}/timeline`)).data as Array<{ status: string, summary: string }>
  t.same(steps.map((s) => s.status), ['requested', 'issued', 'paid', 'partially_refunded', 'refunded'])
  t.match(steps[3]!.summary, /refunded 500 GBP, 500 in all \(api\)/)
  t.match((await get(`/v1/payments/${manual}/timeline`)).data.map((s: { status: string }) => s.status), ['requested', 'issued', 'authorized', 'captured', 'captured'])

  const today = new Date().toISOString().slice(0, 10)
  const [day] = (await get(`/v1/figures/daily?from=${today}&to=${today}`)).data
  t.match(day, { issued: 3, paid: 1, captured: 1, released: 1, refunded: 1, refunds: 2, capturedAmount: 5000, refundedAmount: 2000 })

  const dashboard = await get('/v1/dashboard?days=1')
  t.same(dashboard.totals.refunded, [{ currency: 'GBP', amount: 2000 }])
  t.same(dashboard.totals.captured, [{ currency: 'GBP', amount: 5000 }])

  await until(() => received.filter((m) => m.type === 'payment.status-changed').length >= 7, 30_000, 'integration events')
  const of = (linkId: string): Array<Record<string, any>> => received.filter((m) => m.type === 'payment.status-changed' && m.linkId === linkId)
  t.match(of(auto), [
    { previousStatus: 'issued', status: 'paid', capturedAmount: 2000, refundedAmount: 0 },
    { previousStatus: 'paid', status: 'partially_refunded', refundedAmount: 500 },
    { previousStatus: 'partially_refunded', status: 'refunded', refundedAmount: 2000 }
  ])
  t.match(of(manual), [
    { status: 'authorized', capturedAmount: 0 },
    { previousStatus: 'authorized', status: 'captured', capturedAmount: 1000 },
    { previousStatus: 'captured', status: 'captured', capturedAmount: 3000 }
  ], 'a second capture moves money, not status, and order systems hear of it')
  t.match(of(released), [{ status: 'authorized' }, { previousStatus: 'authorized', status: 'released' }])
})
