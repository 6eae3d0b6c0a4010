import t from 'tap'
import { orderStream, orderSubject, paymentLinkStream } from '@paylinks/contracts'
import { connectMessaging } from '@paylinks/messaging'
import { onTeardown } from '@paylinks/test-kit'
import { ORDER_ABANDONED_CODE } from '../src/issuing/decisions.js'
import { linkIdFor } from '../src/link.js'
import { orderKey } from '../src/orders.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, ordersSettled, startFaultyProxy, startRecorder, startSandbox, until } from './helpers.js'

// An order gets one outcome: issued or rejected, never both. The recovery sweep runs every
// 100 ms and resumes any link requested without a lease, as it does for links after a crash.

const sandbox = await startSandbox(t)
const env = await issuerEnv(t, { ORDERS_MAX_ATTEMPTS: '2', ORDERS_RETRY_DELAY_MS: '1500', RECOVERY_INTERVAL_MS: '100', RECOVERY_AFTER_MS: '0' })
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const store = await openStore(t, env)
const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'order-outcome-test' })
onTeardown(t, () => messaging.close())

const types = async (streamId: string): Promise<string[]> => (await store.readStream(streamId)).map((e) => e.type)
const issued = async (linkId: string): Promise<boolean> => (await types(paymentLinkStream(linkId))).includes('payment-link.issued')

t.test('an order that exhausts its attempts should be rejected, and no sweep should issue its link afterwards', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, [])
  proxy.setDefault('fail500')
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  await messaging.js.publish(orderSubject(env.ORDERS_SUBJECT_PREFIX!, m.id), JSON.stringify({ orderId: 'given-up', merchantId: m.id, amount: { value: 800, currencyCode: 'GBP' } }), { msgID: 'given-up' })
  const rejection = orderStream(orderKey(m.id, 'given-up'))
  await until(async () => (await types(rejection)).length > 0, 30_000, 'the order rejected')

  // A partner's link made while Dojo was down, after the order's: once the sweep (oldest first)
  // has issued it, the sweep has passed the order's link with Dojo answering.
  const control = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: { reference: 'control', amount: { value: 100, currencyCode: 'GBP' } } })
  t.equal(control.statusCode, 503, control.body)
  proxy.setDefault('pass')
  await until(async () => await issued(linkIdFor(m.id, 'control')), 30_000, 'the control link issued by the sweep')
  await ordersSettled(messaging, store, env)

  t.same(await types(rejection), ['order.rejected'], 'one rejection')
  const linkEvents = await store.readStream(paymentLinkStream(linkIdFor(m.id, 'given-up')))
  t.same(linkEvents.map((e) => e.type), ['payment-link.requested', 'payment-link.issue-failed'], 'never issued')
  t.match(linkEvents[1]!.data, { code: ORDER_ABANDONED_CODE, retryable: false })
  const link = await app.inject({ method: 'GET', url: `/v1/payment-links/${linkIdFor(m.id, 'given-up')}`, headers: auth(m.apiKey) })
  t.equal(link.json().status, 'failed')
  // A sweep already creating when the order was given up may get its create to Dojo once Dojo
  // answers again: it then finds the link failed and cancels that intent (it never published
  // its URL). So the control link's is the only intent a customer could pay.
  const payable = async (): Promise<number> => (await m.dojo.searchPaymentIntents({})).data.filter((i) => i.status !== 'Canceled').length
  await until(async () => await payable() === 1, 10_000, 'only the control link has a payable intent').catch(() => {})
  t.equal(await payable(), 1, 'only the control link has a payable intent')
})

t.test('an order whose link the sweep issued while it waited for redelivery should be acked, never rejected', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, [])
  proxy.setDefault('fail500')
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  await messaging.js.publish(orderSubject(env.ORDERS_SUBJECT_PREFIX!, m.id), JSON.stringify({ orderId: 'swept', merchantId: m.id, amount: { value: 900, currencyCode: 'GBP' } }), { msgID: 'swept' })
  // The first delivery's three creates failed (one holder at a time: they were all its own).
  await until(() => proxy.creates() >= 3, 30_000, 'the first delivery failed')
  proxy.setDefault('pass')
  const linkId = linkIdFor(m.id, 'swept')
  await until(async () => await issued(linkId), 30_000, 'the link issued')
  await ordersSettled(messaging, store, env)
  t.same(await types(paymentLinkStream(linkId)), ['payment-link.requested', 'payment-link.issued'])
  t.same(await types(orderStream(orderKey(m.id, 'swept'))), [], 'no rejection')
  const info = await messaging.jsm.consumers.info(env.ORDERS_STREAM!, env.ORDERS_DURABLE!)
  t.equal(info.num_pending + info.num_ack_pending, 0, 'the order was acked')
})
