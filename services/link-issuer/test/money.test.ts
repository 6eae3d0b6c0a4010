import t from 'tap'
import { paymentLinkStream, type LinkStatus } from '@paylinks/contracts'
import { connectMessaging, createEventPublisher } from '@paylinks/messaging'
import { onTeardown } from '@paylinks/test-kit'
import { registry } from '../src/link.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, whenRecorded, startRecorder, startSandbox } from './helpers.js'

// Refunds, captures and releases through the partner API, against the sandbox. Payments reach
// the link the way webhook-ingest records them (its status change, published as webhook-ingest):
// this service only moves money once Dojo's status is recorded.
const sandbox = await startSandbox(t)
const env = await issuerEnv(t)
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const store = await openStore(t, env)
const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'money-test' })
onTeardown(t, () => messaging.close())
const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: env.EVENTS_SUBJECT_PREFIX!, registry })

let n = 0
const ref = (): string => `money-${++n}-${Date.now().toString(36)}`
const post = async (key: string, url: string, payload?: unknown, idempotencyKey?: string) =>
  await app.inject({ method: 'POST', url, headers: { ...auth(key), ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) }, ...(payload === undefined ? {} : { payload: payload as object }) })
const types = async (linkId: string): Promise<string[]> => (await store.readStream(paymentLinkStream(linkId))).map((e) => e.type)

/** What webhook-ingest records once Dojo confirms the payment: the link's status change. */
async function confirmed (linkId: string, paymentIntentId: string, to: LinkStatus, value: number): Promise<void> {
  const events = await store.readStream(paymentLinkStream(linkId))
  const from = (events.some((e) => e.type === 'payment-link.status-changed') ? 'authorized' : 'issued') as LinkStatus
  const [ack] = await publisher.publish([registry.create('payment-link.status-changed', {
    linkId, paymentIntentId, from, to, dojoStatus: to === 'paid' ? 'Captured' : 'Authorized', amount: { value, currencyCode: 'GBP' }, capturedAmount: to === 'paid' ? value : 0, refundedAmount: 0, source: 'webhook', observedAt: new Date().toISOString()
  }, { streamId: paymentLinkStream(linkId), metadata: { correlationId: 'money-test', producer: 'webhook-ingest' } })], { expectedLastSubjectSequence: events.at(-1)!.position })
  await store.waitForPosition(ack!.seq, 10_000)
}

async function paidLink (apiKey: string, value: number, extra: Record<string, unknown> = {}): Promise<{ id: string, paymentIntentId: string }> {
  const res = await post(apiKey, '/v1/payment-links', { reference: ref(), amount: { value, currencyCode: 'GBP' }, ...extra })
  if (res.statusCode !== 201) throw new Error(res.body)
  await whenRecorded(store, res)
  const link = res.json()
  const paid = await sandbox.pay(link.paymentIntentId)
  if (paid.status !== 200) throw new Error(JSON.stringify(paid.body))
  await confirmed(link.id, link.paymentIntentId, extra.captureMode === 'Manual' ? 'authorized' : 'paid', value)
  return link
}

t.test('a refund sent twice with one Idempotency-Key should refund once: one Dojo refund, one event', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const link = await paidLink(m.apiKey, 2000)
  const first = await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 500, reason: 'a cup broke' }, 'refund-once')
  t.equal(first.statusCode, 201, first.body)
  t.match(first.json(), { refundId: /^rfnd_/, amount: { value: 500, currencyCode: 'GBP' }, link: { id: link.id, status: 'partially_refunded', capturedAmount: 2000, refundedAmount: 500 } })
  const again = await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 500, reason: 'a cup broke' }, 'refund-once')
  t.equal(again.statusCode, 201)
  t.same(again.json(), first.json(), 'the same answer')
  t.equal((await m.dojo.getPaymentIntent(link.paymentIntentId)).refundedAmount, 500, 'Dojo refunded once')
  t.same((await types(link.id)).filter((x) => x === 'payment-link.refunded'), ['payment-link.refunded'], 'one refunded event')
  const other = await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 600 }, 'refund-once')
  t.equal(other.statusCode, 422, 'the key with another body is refused')
  t.equal(other.headers['content-type'], 'application/problem+json; charset=utf-8')

  const rest = await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, null, 'refund-rest')
  t.equal(rest.statusCode, 201, rest.body)
  t.match(rest.json(), { amount: { value: 1500 }, link: { status: 'refunded', refundedAmount: 2000 } }, 'without an amount, the rest')
  const got = (await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}`, headers: auth(m.apiKey) })).json()
  t.match(got, { status: 'refunded', captureMode: 'Auto', capturedAmount: 2000, refundedAmount: 2000 })
  const intent = await m.dojo.getPaymentIntent(link.paymentIntentId)
  t.match(intent, { status: 'Refunded', refundedAmount: 2000 })
})

t.test('refunds should be refused with problem+json when the link is not paid, the amount is too much, or the key is missing', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const unpaid = (await post(m.apiKey, '/v1/payment-links', { reference: ref(), amount: { value: 1000, currencyCode: 'GBP' } })).json()
  const notPaid = await post(m.apiKey, `/v1/payment-links/${unpaid.id as string}/refunds`, { amount: 100 }, 'k1')
  t.equal(notPaid.statusCode, 409)
  t.match(notPaid.json(), { code: 'LINK_NOT_REFUNDABLE', detail: /is issued: only a paid/ })
  const link = await paidLink(m.apiKey, 1000)
  const over = await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 1001 }, 'k2')
  t.equal(over.statusCode, 422)
  t.match(over.json(), { code: 'LINK_OVER_REFUND', detail: /1000 GBP minor units left to refund/ })
  t.equal((await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 100 })).statusCode, 400, 'no Idempotency-Key')
  t.equal((await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 1.5 }, 'k3')).statusCode, 400, 'minor units are integers')
  t.equal((await m.dojo.getPaymentIntent(link.paymentIntentId)).refundedAmount, 0, 'nothing refunded at Dojo')
  t.notOk((await types(link.id)).includes('payment-link.refunded'))
})

t.test('another merchant\'s key, or none, should change nothing', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const other = await createTestMerchant(t, env, sandbox.url)
  const link = await paidLink(m.apiKey, 1000)
  const before = await types(link.id)
  for (const path of ['refunds', 'captures', 'release']) {
    const res = await post(other.apiKey, `/v1/payment-links/${link.id}/${path}`, {}, `x-${path}`)
    t.equal(res.statusCode, 404, `${path}: another merchant's link is unknown`)
    t.equal((await app.inject({ method: 'POST', url: `/v1/payment-links/${link.id}/${path}`, headers: { 'idempotency-key': 'y' }, payload: {} })).statusCode, 401, `${path}: no key`)
  }
  t.same(await types(link.id), before)
  t.match(await m.dojo.getPaymentIntent(link.paymentIntentId), { status: 'Captured', refundedAmount: 0 })
})

t.test('a Manual link should be authorised, then captured in two parts up to its amount', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const bad = await post(m.apiKey, '/v1/payment-links', { reference: ref(), amount: { value: 1000, currencyCode: 'GBP' }, autoExpireIn: '01:00:00' })
  t.equal(bad.statusCode, 422, 'auto-expiry only for Manual')
  const link = await paidLink(m.apiKey, 3000, { captureMode: 'Manual', autoExpireIn: '02:00:00' })
  const intent = await m.dojo.getPaymentIntent(link.paymentIntentId)
  t.match(intent, { status: 'Authorized', captureMode: 'Manual', autoExpireAction: 'Release', autoExpireIn: '02:00:00' }, 'Dojo got the Manual fields')
  const c1 = await post(m.apiKey, `/v1/payment-links/${link.id}/captures`, { amount: 1000 }, 'cap-1')
  t.equal(c1.statusCode, 201, c1.body)
  t.match(c1.json(), { captureId: /^cp_/, amount: { value: 1000 }, link: { status: 'captured', capturedAmount: 1000 } })
  t.same((await post(m.apiKey, `/v1/payment-links/${link.id}/captures`, { amount: 1000 }, 'cap-1')).json(), c1.json(), 'a replay captures nothing more')
  t.equal((await post(m.apiKey, `/v1/payment-links/${link.id}/captures`, { amount: 2001 }, 'cap-2')).statusCode, 422, 'no more than the rest')
  const c2 = await post(m.apiKey, `/v1/payment-links/${link.id}/captures`, null, 'cap-3')
  t.equal(c2.statusCode, 201, c2.body)
  t.match(c2.json(), { amount: { value: 2000 }, link: { status: 'captured', capturedAmount: 3000 } })
  t.match(await m.dojo.getPaymentIntent(link.paymentIntentId), { status: 'Captured', captures: [{ amount: 1000 }, { amount: 2000 }] })
  t.same((await types(link.id)).filter((x) => x === 'payment-link.captured').length, 2)
  const release = await post(m.apiKey, `/v1/payment-links/${link.id}/release`)
  t.equal(release.statusCode, 409, 'a captured Manual payment is only refunded')
  t.match(release.json(), { code: 'LINK_NOT_RELEASABLE' })
  const refund = await post(m.apiKey, `/v1/payment-links/${link.id}/refunds`, { amount: 3000 }, 'cap-refund')
  t.match(refund.json(), { link: { status: 'refunded', refundedAmount: 3000 } })

  const auto = await paidLink(m.apiKey, 500)
  t.match((await post(m.apiKey, `/v1/payment-links/${auto.id}/captures`, {}, 'cap-auto')).json(), { code: 'LINK_NOT_MANUAL_CAPTURE' })
})

t.test('release of an authorised link should reverse it at Dojo and make it released, once', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const link = await paidLink(m.apiKey, 1200, { captureMode: 'Manual' })
  const res = await post(m.apiKey, `/v1/payment-links/${link.id}/release`)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { reversalId: /^rvs_/, link: { status: 'released', capturedAmount: 0 } })
  t.equal((await m.dojo.getPaymentIntent(link.paymentIntentId)).status, 'Reversed')
  t.match((await post(m.apiKey, `/v1/payment-links/${link.id}/release`)).json(), { reversalId: null, link: { status: 'released' } }, 'again: the same link, nothing sent')
  t.equal((await post(m.apiKey, `/v1/payment-links/${link.id}/captures`, {}, 'after-release')).statusCode, 409)
  t.same((await types(link.id)).filter((x) => x === 'payment-link.released').length, 1)
})
