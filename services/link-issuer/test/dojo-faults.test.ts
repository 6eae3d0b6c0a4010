import t from 'tap'
import { auth, buildIssuer, createTestMerchant, issuerEnv, startFaultyProxy, startRecorder, startSandbox } from './helpers.js'

const sandbox = await startSandbox(t)
const env = await issuerEnv(t, { DOJO_TIMEOUT_MS: '1000' })
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const body = (reference: string): Record<string, unknown> => ({ reference, amount: { value: 1999, currencyCode: 'GBP' } })

t.test('a Dojo that answers 500 before succeeding should give one link and one intent', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['fail500', 'fail500'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('five-hundred') })
  t.equal(res.statusCode, 201, res.body)
  t.equal(proxy.creates(), 3)
  const intents = (await m.dojo.searchPaymentIntents({})).data
  t.equal(intents.length, 1)
  t.equal(intents[0]!.id, res.json().paymentIntentId)
})

t.test('a Dojo that times out after creating should give one link and the intent it created', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['slow'], 2500)
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('slow-dojo') })
  t.equal(res.statusCode, 201, res.body)
  t.equal(proxy.creates(), 1, 'found by reference, not created again')
  const intents = (await m.dojo.searchPaymentIntents({})).data
  t.equal(intents.length, 1)
  t.equal(intents[0]!.id, res.json().paymentIntentId)
})

t.test('a Dojo that stays down should leave the link requested, and a retry with the key should issue it once', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['fail500', 'fail500', 'fail500'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const headers = { ...auth(m.apiKey), 'idempotency-key': 'retry-me' }
  const first = await app.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('down') })
  t.equal(first.statusCode, 503, first.body)
  t.match(first.json(), { code: 'LINK_DOJO_UNAVAILABLE', linkId: /^lnk_/ })
  t.ok(first.headers['retry-after'])
  const during = await app.inject({ method: 'GET', url: `/v1/payment-links/${first.json().linkId as string}`, headers: auth(m.apiKey) })
  t.equal(during.json().status, 'requested')
  const retry = await app.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('down') })
  t.equal(retry.statusCode, 201, retry.body)
  t.equal(retry.json().id, first.json().linkId)
  t.equal((await m.dojo.searchPaymentIntents({})).data.length, 1)
})

t.test('a Dojo that refuses the intent should record issue-failed and answer 502 naming the link', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['fail400'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('refused') })
  t.equal(res.statusCode, 502, res.body)
  t.match(res.json(), { code: 'LINK_DOJO_REFUSED', linkId: /^lnk_/, detail: /Reference/ })
  const link = await app.inject({ method: 'GET', url: `/v1/payment-links/${res.json().linkId as string}`, headers: auth(m.apiKey) })
  t.match(link.json(), { status: 'failed', failure: { code: 'DOJO_VALIDATION' } })
  t.equal(proxy.creates(), 1, 'a refusal is not retried')
})
