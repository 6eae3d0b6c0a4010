import t from 'tap'
import { orderSubject, orderStream, paymentLinkStream } from '@paylinks/contracts'
import { connectMessaging, createEventPublisher } from '@paylinks/messaging'
import { onTeardown } from '@paylinks/test-kit'
import { dojoReferenceFor, linkIdFor, registry } from '../src/link.js'
import { orderKey } from '../src/orders.js'
import { buildIssuer, createTestMerchant, issuerEnv, openStore, ordersSettled, startFaultyProxy, startRecorder, startSandbox, until } from './helpers.js'

const sandbox = await startSandbox(t)
const env = await issuerEnv(t)
await startRecorder(t, env)
await buildIssuer(t, env)
const store = await openStore(t, env)
const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'orders-test' })
onTeardown(t, () => messaging.close())

const prefix = env.ORDERS_SUBJECT_PREFIX!
async function publishOrder (merchantId: string, order: unknown, msgId?: string): Promise<void> {
  await messaging.js.publish(orderSubject(prefix, merchantId), typeof order === 'string' ? order : JSON.stringify(order), msgId === undefined ? {} : { msgID: msgId })
}
const linkEvents = async (merchantId: string, reference: string): Promise<string[]> =>
  (await store.readStream(paymentLinkStream(linkIdFor(merchantId, reference)))).map((e) => e.type)
const settled = async (): Promise<void> => { await ordersSettled(messaging, store, env) }

let n = 0
const orderId = (): string => `ord-${++n}-${Date.now().toString(36)}`

t.test('an order on orders.v1.<merchantId> should become an issued link, acked after the outcome', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const id = orderId()
  await publishOrder(m.id, { orderId: id, merchantId: m.id, amount: { value: 2500, currencyCode: 'EUR' }, customer: { email: 'bo@example.com' } }, id)
  const types = await until(async () => { const e = await linkEvents(m.id, id); return e.includes('payment-link.issued') ? e : undefined }, 20_000, 'link issued')
  t.same(types, ['payment-link.requested', 'payment-link.issued'])
  const requested = (await store.readStream(paymentLinkStream(linkIdFor(m.id, id))))[0]!
  t.match(requested.data, { source: 'order', orderId: id, reference: id, amount: { value: 2500, currencyCode: 'EUR' } })
  await settled()
})

t.test('redelivery of the same order should never make a second intent', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const id = orderId()
  const order = { orderId: id, merchantId: m.id, reference: `ref-${id}`, amount: { value: 700, currencyCode: 'GBP' } }
  // Different message ids defeat JetStream's de-duplication: each one is delivered and handled.
  await Promise.all(Array.from({ length: 5 }, async (_, i) => { await publishOrder(m.id, order, `${id}-${i}`) }))
  await settled()
  const types = await linkEvents(m.id, `ref-${id}`)
  t.same(types, ['payment-link.requested', 'payment-link.issued'])
  const linkId = linkIdFor(m.id, `ref-${id}`)
  const intents = await m.dojo.findPaymentIntentsByReference(dojoReferenceFor(`ref-${id}`, linkId), { createdFrom: new Date(Date.now() - 60_000) })
  t.equal(intents.length, 1, 'one intent at Dojo')
})

t.test('an invalid order should produce order.rejected with the reason and not be redelivered', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const bad = orderId()
  await publishOrder(m.id, { orderId: bad, merchantId: m.id, amount: { value: 1.5, currencyCode: 'USD' } })
  await publishOrder(m.id, 'not json at all')
  const wrongSubject = orderId()
  await publishOrder(m.id, { orderId: wrongSubject, merchantId: 'mer_someoneelse', amount: { value: 100, currencyCode: 'GBP' } })
  const unknownMerchant = orderId()
  await publishOrder('mer_nobodyhere', { orderId: unknownMerchant, merchantId: 'mer_nobodyhere', amount: { value: 100, currencyCode: 'GBP' } })
  await settled()
  const rejected = async (merchantId: string, id: string): Promise<any> =>
    await until(async () => (await store.readStream(orderStream(orderKey(merchantId, id))))[0], 10_000, `rejection of ${id}`)
  const r1 = await rejected(m.id, bad)
  t.equal(r1.type, 'order.rejected')
  t.match(r1.data, { orderId: bad, merchantId: m.id, reason: /Order schema/ })
  t.ok(r1.data.problems.some((p: string) => p.includes('/amount/value')), r1.data.problems.join('; '))
  t.match((await rejected(m.id, wrongSubject)).data.reason, /published on the subject of/)
  t.match((await rejected('mer_nobodyhere', unknownMerchant)).data.reason, /unknown merchant/)
  const all = await store.readAll(0, 10_000)
  t.ok(all.some((e) => e.type === 'order.rejected' && (e.data as any).reason === 'the message is not JSON'))
  const info = await messaging.jsm.consumers.info(env.ORDERS_STREAM!, env.ORDERS_DURABLE!)
  t.equal(info.num_redelivered, 0, 'nothing was redelivered')
})

t.test('an order whose reference another order took should be rejected, naming the link', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const [a, b] = [orderId(), orderId()]
  await publishOrder(m.id, { orderId: a, merchantId: m.id, reference: `shared-${a}`, amount: { value: 100, currencyCode: 'GBP' } })
  await settled()
  await publishOrder(m.id, { orderId: b, merchantId: m.id, reference: `shared-${a}`, amount: { value: 100, currencyCode: 'GBP' } })
  await settled()
  const [event] = await until(async () => { const e = await store.readStream(orderStream(orderKey(m.id, b))); return e.length > 0 ? e : undefined })
  t.match(event!.data, { orderId: b, reason: new RegExp(`already used by link ${linkIdFor(m.id, `shared-${a}`)}`) })
})

t.test('a crash between intent created and issued published should be recovered without a second intent', async (t) => {
  // The merchant's Dojo is reached through a proxy that times out the first create: the intent
  // exists at Dojo, the issuer never hears of it, and must find it by its reference.
  const proxy = await startFaultyProxy(t, sandbox.url, ['slow'], 3000)
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const id = orderId()
  await publishOrder(m.id, { orderId: id, merchantId: m.id, amount: { value: 4200, currencyCode: 'GBP' } })
  await settled()
  t.same(await linkEvents(m.id, id), ['payment-link.requested', 'payment-link.issued'])
  const linkId = linkIdFor(m.id, id)
  const intents = await m.dojo.findPaymentIntentsByReference(dojoReferenceFor(id, linkId), { createdFrom: new Date(Date.now() - 60_000) })
  t.equal(intents.length, 1, 'one intent at Dojo')
  t.equal(proxy.creates(), 1, 'no second create was sent')
  const issued = (await store.readStream(paymentLinkStream(linkId)))[1]!
  t.equal((issued.data as { paymentIntentId: string }).paymentIntentId, intents[0]!.id)

  // And a process that died right after creating: the requested event is there, the intent
  // exists, nothing says issued. The redelivered order finds the intent instead of making one.
  const m2 = await createTestMerchant(t, env, sandbox.url)
  const id2 = orderId()
  const linkId2 = linkIdFor(m2.id, id2)
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: env.EVENTS_SUBJECT_PREFIX!, registry })
  await publisher.publish([registry.create('payment-link.requested', {
    linkId: linkId2, merchantId: m2.id, reference: id2, amount: { value: 300, currencyCode: 'GBP' }, expiresAt: new Date(Date.now() + 86_400_000).toISOString(), sendEmail: false, source: 'order', orderId: id2
  }, { streamId: paymentLinkStream(linkId2), metadata: { correlationId: 'crash', causationId: `order:${id2}`, producer: 'link-issuer' } })], { expectedLastSubjectSequence: 0 })
  const orphan = await m2.dojo.createPaymentIntent({ amount: { value: 300, currencyCode: 'GBP' }, reference: dojoReferenceFor(id2, linkId2), paymentSource: 'payment-links' })
  await publishOrder(m2.id, { orderId: id2, merchantId: m2.id, amount: { value: 300, currencyCode: 'GBP' } })
  await settled()
  const events = await store.readStream(paymentLinkStream(linkId2))
  t.same(events.map((e) => e.type), ['payment-link.requested', 'payment-link.issued'])
  t.equal((events[1]!.data as { paymentIntentId: string }).paymentIntentId, orphan.id, 'the existing intent was adopted')
  t.equal((await m2.dojo.searchPaymentIntents({})).data.length, 1, 'still one intent at Dojo')
})
