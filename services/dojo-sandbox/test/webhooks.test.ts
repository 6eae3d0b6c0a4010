import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, CARDS, createIntent, headers, OTHER_KEY, pay, startReceiver, startSandbox } from './helper.js'
import { verifyWebhook } from '../src/signature.js'

async function call (app: FastifyInstance, method: string, url: string, payload?: unknown, key?: string) {
  const res = await app.inject({ method: method as 'GET', url, headers: headers(key), ...(payload === undefined ? {} : { payload: payload as object }) })
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json() }
}

async function subscribe (app: FastifyInstance, url: string, events = ['payment_intent.created', 'payment_intent.status_updated']) {
  const res = await call(app, 'POST', '/webhooks', { events, url, description: 'test' })
  if (res.status !== 200) throw new Error(res.status + JSON.stringify(res.body))
  return res.body
}

t.test('GET /webhooks/events should list the payment intent events', async (t) => {
  const app = await buildApp(t)
  const res = await call(app, 'GET', '/webhooks/events')
  t.same(res.body, [{ model: 'PaymentIntent', events: ['payment_intent.created', 'payment_intent.status_updated', 'payment_intent.send-receipt'] }])
})

t.test('webhook subscriptions should be created, listed, changed and deleted per key', async (t) => {
  const app = await buildApp(t)
  const s = await subscribe(app, 'https://example.com/hooks')
  t.match(s, { id: /^ws_[A-Za-z0-9_-]{22}$/, accountId: /^acc_/, url: 'https://example.com/hooks', description: 'test', events: ['payment_intent.created', 'payment_intent.status_updated'] })
  t.equal(s.secrets.length, 1)
  t.match(s.secrets[0], { id: /^sc_[A-Za-z0-9_-]{22}$/, isActive: true, value: /.{16,}/ })
  t.same((await call(app, 'GET', '/webhooks')).body.map((x: { id: string }) => x.id), [s.id])
  t.same((await call(app, 'GET', '/webhooks', undefined, OTHER_KEY)).body, [], 'another key sees none')
  const patched = await call(app, 'PATCH', `/webhooks/${s.id as string}`, { events: ['payment_intent.status_updated'], url: 'http://localhost:9/x' })
  t.match(patched.body, { events: ['payment_intent.status_updated'], url: 'http://localhost:9/x' })
  t.equal((await call(app, 'PATCH', `/webhooks/${s.id as string}`, { events: ['payment.nope'] })).status, 400)
  t.equal((await call(app, 'PATCH', `/webhooks/${s.id as string}`, { url: 'http://example.com/x' })).status, 400)
  t.equal((await call(app, 'PATCH', '/webhooks/ws_nope', { events: ['payment_intent.created'] })).status, 404)
  t.equal((await call(app, 'PATCH', `/webhooks/${s.id as string}`, {}, OTHER_KEY)).status, 404)
  t.equal((await call(app, 'DELETE', `/webhooks/${s.id as string}`)).status, 204)
  t.equal((await call(app, 'DELETE', `/webhooks/${s.id as string}`)).status, 404)
  t.same((await call(app, 'GET', '/webhooks')).body, [])
})

t.test('POST /webhooks should refuse unknown events and non-https URLs except loopback', async (t) => {
  const app = await buildApp(t)
  const unknown = await call(app, 'POST', '/webhooks', { events: ['payment_intent.created', 'order.created'], url: 'https://example.com' })
  t.equal(unknown.status, 400)
  t.same(Object.keys(unknown.body.errors), ['Events'])
  for (const url of ['http://example.com/h', 'http://10.0.0.1/h', 'ftp://127.0.0.1/h', 'not a url', 'http://127.evil.com/h']) {
    const res = await call(app, 'POST', '/webhooks', { events: ['payment_intent.created'], url })
    t.equal(res.status, 400, url)
  }
  for (const url of ['http://127.0.0.1:8080/h', 'http://127.1.2.3/h', 'http://localhost/h', 'http://[::1]:3000/h', 'https://example.com/h']) {
    t.equal((await call(app, 'POST', '/webhooks', { events: ['payment_intent.created'], url })).status, 200, url)
  }
  t.equal((await call(app, 'POST', '/webhooks', { url: 'https://example.com' })).status, 400, 'events required')
  t.equal((await call(app, 'POST', '/webhooks', { events: ['payment_intent.created'], url: 'https://example.com', extra: 1 })).status, 400)
})

t.test('webhook secrets should be generated inactive, activated one at a time and deleted when inactive', async (t) => {
  const app = await buildApp(t)
  const s = await subscribe(app, 'https://example.com/hooks')
  const first = s.secrets[0].id
  const added = await call(app, 'POST', `/webhooks/${s.id as string}/secrets`)
  t.equal(added.status, 200)
  t.equal(added.body.secrets.length, 2)
  const second = added.body.secrets[1]
  t.equal(second.isActive, false)
  t.equal((await call(app, 'PUT', `/webhooks/${s.id as string}/secrets/${second.id as string}/activate`)).status, 204)
  const listed = (await call(app, 'GET', `/webhooks/${s.id as string}/secrets`)).body
  t.same(listed.secrets.map((x: { isActive: boolean }) => x.isActive), [false, true])
  t.equal((await call(app, 'DELETE', `/webhooks/${s.id as string}/secrets/${second.id as string}`)).status, 409, 'not the active one')
  t.equal((await call(app, 'DELETE', `/webhooks/${s.id as string}/secrets/${first as string}`)).status, 204)
  t.equal((await call(app, 'DELETE', `/webhooks/${s.id as string}/secrets/${first as string}`)).status, 404)
  t.equal((await call(app, 'PUT', `/webhooks/${s.id as string}/secrets/sc_nope/activate`)).status, 404)
  t.equal((await call(app, 'GET', '/webhooks/ws_nope/secrets')).status, 404)
  t.equal((await call(app, 'POST', '/webhooks/ws_nope/secrets')).status, 404)
})

t.test('every status change should be delivered, signed with the active secret, to each subscription for that event', async (t) => {
  const { app } = await startSandbox(t)
  const receiver = await startReceiver(t)
  const onlyStatus = await startReceiver(t)
  const s = await subscribe(app, receiver.url)
  const s2 = await subscribe(app, onlyStatus.url, ['payment_intent.status_updated'])
  const i = await createIntent(app, { captureMode: 'Manual' })
  await pay(app, i.id, CARDS.declined) // no status change, no webhook
  await pay(app, i.id, CARDS.success)
  await call(app, 'POST', `/payment-intents/${i.id as string}/captures`, { amount: 1050 })
  await app.sandbox.webhooks.idle()
  // Deliveries run side by side and a slow answer is retried, as Dojo's are (no order, at least
  // once): a receiver keeps one of each event id and reads them in event order.
  type Got = typeof receiver.received
  const inEventOrder = (received: Got): Got => [...new Map(received.map((r) => [r.json.id, r])).values()].sort((a, b) => a.json.createdAt.localeCompare(b.json.createdAt))
  const got = inEventOrder(receiver.received.filter((r) => r.json.data.paymentIntentId === i.id))
  t.same(got.map((r) => [r.json.event, r.json.data.paymentStatus]), [
    ['payment_intent.created', 'Created'],
    ['payment_intent.status_updated', 'Authorized'],
    ['payment_intent.status_updated', 'Captured']
  ])
  t.same(inEventOrder(onlyStatus.received).map((r) => r.json.data.paymentStatus), ['Authorized', 'Captured'])
  const first = got[0]!
  t.same(Object.keys(first.json), ['id', 'event', 'accountId', 'createdAt', 'data'])
  t.match(first.json, { id: /^evt_[A-Za-z0-9_-]{22}$/, accountId: s.accountId, data: { paymentIntentId: i.id, paymentStatus: 'Created', captureMode: 'Manual' } })
  t.same(Object.keys(first.json.data), ['paymentIntentId', 'paymentStatus', 'captureMode'], 'no amount in the body')
  t.match(first.headers['content-type'], /application\/json/)
  t.match(first.headers['dojo-signature'], /^sha256=([0-9A-F]{2}-){31}[0-9A-F]{2}$/)
  t.ok(verifyWebhook(first.body, String(first.headers['dojo-signature']), [s.secrets[0].value]))
  t.notOk(verifyWebhook(first.body, String(first.headers['dojo-signature']), [s2.secrets[0].value]), 'each subscription has its own secret')

  // Rotation: after activating a new secret, deliveries are signed with it.
  const added = (await call(app, 'POST', `/webhooks/${s.id as string}/secrets`)).body.secrets[1]
  await call(app, 'PUT', `/webhooks/${s.id as string}/secrets/${added.id as string}/activate`)
  await app.inject({ method: 'POST', url: `/payment-intents/${i.id as string}/refunds`, headers: headers(undefined, { idempotencyKey: 'k1' }), payload: { amount: 1050 } })
  await app.sandbox.webhooks.idle()
  const last = receiver.received.at(-1)!
  t.equal(last.json.data.paymentStatus, 'Refunded')
  t.ok(verifyWebhook(last.body, String(last.headers['dojo-signature']), [added.value]))
  t.notOk(verifyWebhook(last.body, String(last.headers['dojo-signature']), [s.secrets[0].value]))
})

t.test('a failing receiver should get retries with back-off until it answers 2xx, and the log should show each attempt', async (t) => {
  const { app } = await startSandbox(t)
  // 500, then a hang past the attempt timeout, then 200.
  const receiver = await startReceiver(t, (n) => n === 0 ? 500 : n === 1 ? 'hang' : 200)
  const s = await subscribe(app, receiver.url, ['payment_intent.created'])
  const i = await createIntent(app)
  await app.sandbox.webhooks.idle()
  t.equal(receiver.received.length, 3)
  t.same(new Set(receiver.received.map((r) => r.json.id)).size, 1, 'the same event id each time')
  t.same(new Set(receiver.received.map((r) => r.body)).size, 1, 'the same bytes each time')
  const log = (await app.inject({ method: 'GET', url: `/sandbox/webhooks/${s.id as string}/deliveries` })).json()
  t.equal(log.deliveries.length, 1)
  const d = log.deliveries[0]
  t.match(d, { status: 'delivered', paymentIntentId: i.id, event: 'payment_intent.created', paymentStatus: 'Created' })
  t.match(d.attempts, [
    { attempt: 1, outcome: 'failure', statusCode: 500 },
    { attempt: 2, outcome: 'failure', error: /timed out/ },
    { attempt: 3, outcome: 'success', statusCode: 200 }
  ])
  t.ok(d.attempts.every((a: { latencyMs: number }) => typeof a.latencyMs === 'number'))
})

t.test('a receiver that never succeeds should get the initial attempt plus one per configured delay, then fail', async (t) => {
  const { app } = await startSandbox(t, { retryDelaysMs: [5, 10] })
  const receiver = await startReceiver(t, () => 503)
  const s = await subscribe(app, receiver.url, ['payment_intent.created'])
  await createIntent(app)
  await app.sandbox.webhooks.idle()
  t.equal(receiver.received.length, 3)
  const log = (await app.inject({ method: 'GET', url: `/sandbox/webhooks/${s.id as string}/deliveries` })).json()
  t.equal(log.deliveries[0].status, 'failed')
  t.equal((await app.inject({ method: 'GET', url: '/sandbox/webhooks/ws_nope/deliveries' })).statusCode, 404)
})

t.test('fault modes should duplicate, drop, delay and reorder deliveries', async (t) => {
  const { app } = await startSandbox(t)
  const receiver = await startReceiver(t)
  const s = await subscribe(app, receiver.url, ['payment_intent.created'])
  const fault = async (body: object) => (await app.inject({ method: 'PUT', url: `/sandbox/webhooks/${s.id as string}/fault`, payload: body }))

  t.same((await fault({ mode: 'duplicate' })).json(), { mode: 'duplicate', delayMs: 1000 })
  const a = await createIntent(app)
  await app.sandbox.webhooks.idle()
  t.same(receiver.received.map((r) => r.json.data.paymentIntentId), [a.id, a.id], 'sent twice, same event')
  t.equal(receiver.received[0]!.json.id, receiver.received[1]!.json.id)

  await fault({ mode: 'drop' })
  await createIntent(app)
  await app.sandbox.webhooks.idle()
  t.equal(receiver.received.length, 2, 'dropped')

  await fault({ mode: 'delay', delayMs: 30 })
  const b = await createIntent(app)
  t.equal(receiver.received.length, 2, 'not yet')
  await app.sandbox.webhooks.idle()
  t.equal(receiver.received.at(-1)!.json.data.paymentIntentId, b.id)

  await fault({ mode: 'reorder', delayMs: 10_000 })
  const c = await createIntent(app)
  const d = await createIntent(app)
  await app.sandbox.webhooks.idle()
  t.same(receiver.received.slice(-2).map((r) => r.json.data.paymentIntentId), [d.id, c.id], 'the second overtakes the first')

  await fault({ mode: 'none' })
  const log = (await app.inject({ method: 'GET', url: `/sandbox/webhooks/${s.id as string}/deliveries` })).json()
  t.same(log.deliveries.map((x: { status: string, fault: string }) => `${x.fault}:${x.status}`), [
    'duplicate:delivered', 'duplicate:delivered', 'drop:dropped', 'delay:delivered', 'reorder:delivered', 'reorder:delivered'
  ])
  t.equal((await fault({ mode: 'explode' })).statusCode, 400)
})

t.test('an expired intent should be voided by the sweeper and announce Canceled', async (t) => {
  const { app } = await startSandbox(t, { expirySweepMs: 10 })
  const receiver = await startReceiver(t)
  await subscribe(app, receiver.url, ['payment_intent.status_updated'])
  const i = await createIntent(app, { expireAt: new Date(Date.now() + 30).toISOString() })
  const [got] = await receiver.waitFor(1)
  t.match(got!.json.data, { paymentIntentId: i.id, paymentStatus: 'Canceled' })
})
