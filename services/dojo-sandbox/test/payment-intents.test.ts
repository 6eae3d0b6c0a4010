import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, CARDS, createIntent, headers, KEY, OTHER_KEY, pay } from './helper.js'

const TRACE_ID = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/

async function call (app: FastifyInstance, method: string, url: string, payload?: unknown, extra: Record<string, string> = {}) {
  const res = await app.inject({ method: method as 'GET', url, headers: headers(KEY, extra), ...(payload === undefined ? {} : { payload: payload as object }) })
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json() }
}

t.test('POST /payment-intents should create a Created intent with Dojo\'s ids, defaults and paymentLink', async (t) => {
  const app = await buildApp(t, { publicUrl: 'http://127.0.0.1:4010' })
  const before = Date.now()
  const res = await call(app, 'POST', '/payment-intents', {
    amount: { value: 1050, currencyCode: 'GBP' },
    reference: 'Order 42',
    description: 'Two coffees',
    customer: { emailAddress: 'a@example.com' },
    config: { title: 'Coffee', redirectUrl: 'https://shop.example/done', cancelUrl: 'https://shop.example/cancel', details: { showReference: true } },
    itemLines: [{ id: 'l1', name: 'Coffee', quantity: 2, amountTotal: { value: 1050, currencyCode: 'GBP' } }],
    metadata: { orderId: '42' },
    paymentSource: 'payment-links'
  })
  t.equal(res.status, 200)
  const i = res.body
  t.match(i.id, /^pi_sandbox_[A-Za-z0-9_-]{22}$/)
  t.match(i, {
    status: 'Created',
    captureMode: 'Auto',
    amount: { value: 1050, currencyCode: 'GBP' },
    totalAmount: { value: 1050, currencyCode: 'GBP' },
    refundedAmount: 0,
    reference: 'Order 42',
    description: 'Two coffees',
    metadata: { orderId: '42' },
    paymentSource: 'payment-links',
    paymentEvents: [],
    captures: [],
    config: { title: 'Coffee', redirectUrl: 'https://shop.example/done', tradingName: 'Sandbox Merchant' },
    paymentLink: `http://127.0.0.1:4010/checkout/${i.id as string}`
  })
  t.equal(i.paymentDetails, undefined, 'no paymentDetails before payment')
  t.type(i.clientSessionSecret, 'string')
  const days = (Date.parse(i.expireAt) - before) / 86_400_000
  t.ok(days > 29.9 && days < 30.1, 'expires 30 days after creation by default')
  const api = await call(app, 'POST', '/payment-intents', { amount: { value: 1, currencyCode: 'EUR' }, reference: 'r', captureMode: 'Manual', expireAt: '2099-01-01T00:00:00Z' })
  t.match(api.body, { paymentSource: 'api', captureMode: 'Manual', expireAt: '2099-01-01T00:00:00.000Z' })
})

t.test('POST /payment-intents should refuse bad bodies with ASP.NET validation problems keyed in PascalCase', async (t) => {
  const app = await buildApp(t)
  const res = await call(app, 'POST', '/payment-intents', { amount: { value: '10', currencyCode: 'GBP' }, description: 'x'.repeat(4097), config: { title: 'x'.repeat(101) }, colour: 'red' })
  t.equal(res.status, 400)
  t.equal(res.body.type, 'https://tools.ietf.org/html/rfc7231#section-6.5.1')
  t.equal(res.body.title, 'One or more validation errors occurred.')
  t.equal(res.body.status, 400)
  t.match(res.body.traceId, TRACE_ID)
  t.same(Object.keys(res.body.errors).sort(), ['Amount.Value', 'Colour', 'Config.Title', 'Description', 'Reference'])
  t.same(res.body.errors.Reference, ['The Reference field is required.'])
  const long = await call(app, 'POST', '/payment-intents', { amount: { value: 1, currencyCode: 'GBP' }, reference: 'x'.repeat(61) })
  t.same(Object.keys(long.body.errors), ['Reference'])
  const currency = await call(app, 'POST', '/payment-intents', { amount: { value: 1, currencyCode: 'USD' }, reference: 'r' })
  t.same(Object.keys(currency.body.errors), ['Amount.CurrencyCode'])
  const malformed = await app.inject({ method: 'POST', url: '/payment-intents', headers: { ...headers(), 'content-type': 'application/json' }, payload: '{"amount":' })
  t.equal(malformed.statusCode, 400)
  t.ok(malformed.json().errors.$, 'malformed JSON is filed under $')
})

t.test('the Dojo API should take only a raw sk_sandbox_ key and a version header', async (t) => {
  const app = await buildApp(t)
  const base64 = Buffer.from(`${KEY}:`).toString('base64')
  for (const authorization of [undefined, `Basic ${base64}`, 'Basic sk_prod_abc', `Bearer ${KEY}`, KEY, 'Basic ']) {
    const res = await app.inject({ method: 'GET', url: '/webhooks', headers: { version: '2026-02-27', ...(authorization === undefined ? {} : { authorization }) } })
    t.equal(res.statusCode, 401, String(authorization))
    t.match(res.json(), { status: 401, title: 'Unauthorized', traceId: TRACE_ID })
  }
  const noVersion = await app.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Basic ${KEY}` } })
  t.equal(noVersion.statusCode, 400)
  t.same(Object.keys(noVersion.json().errors), ['version'])
  const badVersion = await app.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Basic ${KEY}`, version: 'latest' } })
  t.equal(badVersion.statusCode, 400)
  for (const version of ['2026-02-27', '2025-09-10', '2024-02-05']) {
    const ok = await app.inject({ method: 'GET', url: '/webhooks', headers: { authorization: `Basic ${KEY}`, version } })
    t.equal(ok.statusCode, 200, version)
  }
})

t.test('GET /payment-intents/{id} should show an intent only to its own key, and a canceled one only with returnCanceled', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app)
  t.equal((await call(app, 'GET', `/payment-intents/${i.id as string}`)).body.id, i.id)
  const other = await app.inject({ method: 'GET', url: `/payment-intents/${i.id as string}`, headers: headers(OTHER_KEY) })
  t.equal(other.statusCode, 404)
  t.match(other.json(), { status: 404, traceId: TRACE_ID })
  t.equal((await call(app, 'GET', '/payment-intents/pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA')).status, 404)
  const canceled = await call(app, 'DELETE', `/payment-intents/${i.id as string}`)
  t.equal(canceled.status, 200)
  t.equal(canceled.body.status, 'Canceled')
  t.equal((await call(app, 'GET', `/payment-intents/${i.id as string}`)).status, 404)
  const shown = await call(app, 'GET', `/payment-intents/${i.id as string}?returnCanceled=true`)
  t.equal(shown.body.status, 'Canceled')
  t.equal((await call(app, 'DELETE', `/payment-intents/${i.id as string}`)).status, 404, 'a canceled intent is gone to DELETE too')
})

t.test('paying should fill paymentEvents and paymentDetails with the masked card only', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app)
  t.match(await pay(app, i.id, CARDS.declined), { outcome: 'Declined', status: 'Created' })
  t.match(await pay(app, i.id, CARDS.challenge), { outcome: 'ChallengeRequired', status: 'Created' })
  t.match(await pay(app, i.id, { ...CARDS.challenge, challengeCode: '0000' }), { outcome: 'Declined', status: 'Created' })
  t.match(await pay(app, i.id, { ...CARDS.challenge, challengeCode: '1234' }), { outcome: 'Captured', status: 'Captured' })
  const got = (await call(app, 'GET', `/payment-intents/${i.id as string}`)).body
  t.same(got.paymentEvents.map((e: { eventType: string }) => e.eventType), ['Declined', 'AuthChallenged', 'AuthChallenged', 'Declined', 'AuthChallenged', 'Captured'])
  t.match(got.paymentEvents[0], { cardNumber: '44565300****1013', cardType: 'VISA' })
  t.match(got.paymentDetails, { authCode: /^\d{6}$/, card: { cardNumber: '52000000****1096', last4PAN: '1096' } })
  t.notMatch(JSON.stringify(got), /5200000000001096|4456530000001013/, 'no full card number anywhere')
  t.equal((await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${i.id as string}/pay`, payload: CARDS.success })).statusCode, 409, 'paid once')
  const invalid = await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${(await createIntent(app)).id as string}/pay`, payload: { ...CARDS.success, cardNumber: '5200000000001006' } })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.headers['content-type'], /problem\+json/, 'controls answer in problem+json')
})

t.test('the status machine should allow exactly Dojo\'s moves and answer 409 to every other', async (t) => {
  const app = await buildApp(t)
  const idem = (k: string) => ({ idempotencyKey: k })
  const status = async (id: string) => (await call(app, 'GET', `/payment-intents/${id}?returnCanceled=true`)).body.status

  // Created: cancel ok; capture, refund, reversal forbidden.
  const created = await createIntent(app, { captureMode: 'Manual' })
  t.equal((await call(app, 'POST', `/payment-intents/${created.id as string}/captures`, { amount: 1 })).status, 409)
  t.equal((await call(app, 'POST', `/payment-intents/${created.id as string}/refunds`, { amount: 1 }, idem('a'))).status, 409)
  t.equal((await call(app, 'POST', `/payment-intents/${created.id as string}/reversal`)).status, 409)
  t.equal((await call(app, 'DELETE', `/payment-intents/${created.id as string}`)).status, 200)
  // Canceled: nothing; like GET, the API no longer finds it (404), and it cannot be paid (409).
  t.equal((await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${created.id as string}/pay`, payload: CARDS.success })).statusCode, 409)
  t.equal((await call(app, 'POST', `/payment-intents/${created.id as string}/reversal`)).status, 404)
  t.equal((await call(app, 'POST', `/payment-intents/${created.id as string}/captures`, { amount: 1 })).status, 404)

  // Manual: Created → Authorized → (partial) Captured → Captured → Refunded (partially, then fully).
  const manual = await createIntent(app, { captureMode: 'Manual', amount: { value: 1000, currencyCode: 'GBP' } })
  t.match(await pay(app, manual.id, CARDS.success), { outcome: 'Authorized', status: 'Authorized' })
  t.equal((await call(app, 'DELETE', `/payment-intents/${manual.id as string}`)).status, 409, 'no cancel once authorised')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/refunds`, { amount: 1 }, idem('b'))).status, 409, 'no refund before capture')
  const over = await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 1001 })
  t.equal(over.status, 400)
  const c1 = await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 600 })
  t.equal(c1.status, 200)
  t.match(c1.body.captureId, /^cp_[A-Za-z0-9_-]{22}$/)
  t.equal(await status(manual.id), 'Captured')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 400 })).status, 200, 'partial captures add up')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 1 })).status, 409, 'fully captured')
  const got = (await call(app, 'GET', `/payment-intents/${manual.id as string}`)).body
  t.same(got.captures.map((c: { amount: number }) => c.amount), [600, 400])
  const r1 = await call(app, 'POST', `/payment-intents/${manual.id as string}/refunds`, { amount: 300, refundReason: 'broken cup' }, idem('r1'))
  t.equal(r1.status, 200)
  t.match(r1.body, { paymentIntentId: manual.id, refundId: /^rfnd_[A-Za-z0-9_-]{22}$/, refundReason: 'broken cup' })
  t.equal(await status(manual.id), 'Captured', 'a partial refund keeps Captured')
  const replay = await call(app, 'POST', `/payment-intents/${manual.id as string}/refunds`, { amount: 300 }, idem('r1'))
  t.same(replay.body, r1.body, 'the same idempotencyKey replays the same refund')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/refunds`, { amount: 701 }, idem('r2'))).status, 400, 'no more than captured')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/reversal`)).status, 409, 'no reversal after a refund')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/refunds`, { amount: 700 }, idem('r2'))).status, 200)
  const refunded = (await call(app, 'GET', `/payment-intents/${manual.id as string}`)).body
  t.match(refunded, { status: 'Refunded', refundedAmount: 1000 })
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/refunds`, { amount: 1 }, idem('r3'))).status, 409, 'nothing after Refunded')
  t.equal((await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 1 })).status, 409)

  // Authorized → Reversed; Captured → Reversed; Reversed is final.
  const toReverse = await createIntent(app, { captureMode: 'Manual' })
  await pay(app, toReverse.id, CARDS.success)
  const rv = await call(app, 'POST', `/payment-intents/${toReverse.id as string}/reversal`)
  t.equal(rv.status, 200)
  t.match(rv.body.reversalId, /^rvs_[A-Za-z0-9_-]{22}$/)
  t.equal(await status(toReverse.id), 'Reversed')
  for (const [method, path, body] of [['POST', 'captures', { amount: 1 }], ['POST', 'reversal', undefined], ['POST', 'refunds', { amount: 1 }]] as const) {
    t.equal((await call(app, method, `/payment-intents/${toReverse.id as string}/${path}`, body, idem('x'))).status, 409, `Reversed refuses ${path}`)
  }
  t.equal((await call(app, 'DELETE', `/payment-intents/${toReverse.id as string}`)).status, 409)
  const auto = await createIntent(app)
  t.match(await pay(app, auto.id, CARDS.success), { status: 'Captured' })
  t.equal((await call(app, 'POST', `/payment-intents/${auto.id as string}/captures`, { amount: 1 })).status, 409, 'Auto intents are not captured by hand')
  t.equal((await call(app, 'POST', `/payment-intents/${auto.id as string}/reversal`)).status, 200)
  t.equal(await status(auto.id), 'Reversed')
})

t.test('refunds should require an idempotencyKey of at most 100 characters', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app)
  await pay(app, i.id, CARDS.success)
  const missing = await call(app, 'POST', `/payment-intents/${i.id as string}/refunds`, { amount: 1 })
  t.equal(missing.status, 400)
  t.same(Object.keys(missing.body.errors), ['idempotencyKey'])
  t.equal((await call(app, 'POST', `/payment-intents/${i.id as string}/refunds`, { amount: 1 }, { idempotencyKey: 'k'.repeat(101) })).status, 400)
  t.equal((await call(app, 'POST', `/payment-intents/${i.id as string}/refunds`, { amount: 1 }, { idempotencyKey: 'k'.repeat(100) })).status, 200)
  t.equal((await call(app, 'POST', `/payment-intents/${i.id as string}/refunds`, { amount: 0 }, { idempotencyKey: 'z' })).status, 400)
  t.equal((await call(app, 'POST', '/payment-intents/pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA/refunds', { amount: 1 }, { idempotencyKey: 'z' })).status, 404)
})

t.test('an unpaid intent should become Canceled at expireAt; a paid one should not', async (t) => {
  const app = await buildApp(t)
  const past = await createIntent(app, { expireAt: new Date(Date.now() - 1000).toISOString() })
  t.equal((await call(app, 'GET', `/payment-intents/${past.id as string}`)).status, 404)
  t.equal((await call(app, 'GET', `/payment-intents/${past.id as string}?returnCanceled=true`)).body.status, 'Canceled')
  const forced = await createIntent(app)
  const res = await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${forced.id as string}/expire` })
  t.match(res.json(), { status: 'Canceled' })
  t.equal((await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${forced.id as string}/pay`, payload: CARDS.success })).statusCode, 409)
  const paid = await createIntent(app)
  await pay(app, paid.id, CARDS.success)
  t.equal((await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${paid.id as string}/expire` })).statusCode, 409)
})

t.test('POST /payment-intents/{id}/refresh-client-session-secret should issue a new secret', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app)
  const res = await call(app, 'POST', `/payment-intents/${i.id as string}/refresh-client-session-secret`)
  t.equal(res.status, 200)
  t.not(res.body.clientSessionSecret, i.clientSessionSecret)
  t.equal((await call(app, 'POST', '/payment-intents/pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA/refresh-client-session-secret')).status, 404)
})

t.test('POST /payment-intents/search should page newest first with before/after cursors and filters', async (t) => {
  const app = await buildApp(t)
  const ids: string[] = []
  for (let n = 0; n < 5; n++) ids.push((await createIntent(app, { reference: `r${n}` })).id)
  await createIntent(app, {}, OTHER_KEY)
  await pay(app, ids[1]!, CARDS.success)
  const newest = [...ids].reverse()
  const p1 = (await call(app, 'POST', '/payment-intents/search', { cursor: { limit: 2 } })).body
  t.same(p1.data.map((i: { id: string }) => i.id), newest.slice(0, 2))
  t.equal(p1.before, null)
  t.type(p1.after, 'string')
  const p2 = (await call(app, 'POST', '/payment-intents/search', { cursor: { limit: 2, after: p1.after } })).body
  t.same(p2.data.map((i: { id: string }) => i.id), newest.slice(2, 4))
  const p3 = (await call(app, 'POST', '/payment-intents/search', { cursor: { limit: 2, after: p2.after } })).body
  t.same(p3.data.map((i: { id: string }) => i.id), newest.slice(4))
  t.equal(p3.after, null)
  const back = (await call(app, 'POST', '/payment-intents/search', { cursor: { limit: 2, before: p3.before } })).body
  t.same(back.data.map((i: { id: string }) => i.id), newest.slice(2, 4), 'before goes back a page')
  const all = (await call(app, 'POST', '/payment-intents/search', {})).body
  t.equal(all.data.length, 5, 'default limit 50, own intents only')
  const captured = (await call(app, 'POST', '/payment-intents/search', { statuses: ['Captured'] })).body
  t.same(captured.data.map((i: { id: string }) => i.id), [ids[1]])
  const future = (await call(app, 'POST', '/payment-intents/search', { startDate: '2999-01-01T00:00:00Z' })).body
  t.same(future.data, [])
  t.equal((await call(app, 'POST', '/payment-intents/search', { cursor: { limit: 0 } })).status, 400)
  t.equal((await call(app, 'POST', '/payment-intents/search', { cursor: { limit: 101 } })).status, 400)
  t.equal((await call(app, 'POST', '/payment-intents/search', { cursor: { after: 'garbage' } })).status, 400)
  t.equal((await call(app, 'POST', '/payment-intents/search', { statuses: ['Paid'] })).status, 400)
})

t.test('the bodyless Dojo routes should accept content-type: application/json with no body, as Dojo\'s docs ask callers to send', async (t) => {
  const app = await buildApp(t)
  const bodyless = async (method: string, url: string) => await app.inject({ method: method as 'GET', url, headers: headers(KEY, { 'content-type': 'application/json' }) })
  const canceled = await bodyless('DELETE', `/payment-intents/${(await createIntent(app)).id as string}`)
  t.equal(canceled.statusCode, 200, canceled.body)
  t.equal(canceled.json().status, 'Canceled')
  const paid = await createIntent(app)
  await pay(app, paid.id, CARDS.success)
  const reversed = await bodyless('POST', `/payment-intents/${paid.id as string}/reversal`)
  t.equal(reversed.statusCode, 200, reversed.body)
  const refreshed = await bodyless('POST', `/payment-intents/${(await createIntent(app)).id as string}/refresh-client-session-secret`)
  t.equal(refreshed.statusCode, 200, refreshed.body)
  const subscription = (await call(app, 'POST', '/webhooks', { events: ['payment_intent.status_updated'], url: 'https://example.com/hooks' })).body
  const secret = await bodyless('POST', `/webhooks/${subscription.id as string}/secrets`)
  t.equal(secret.statusCode, 200, secret.body)
  const inactive = secret.json().secrets.find((s: { isActive: boolean }) => !s.isActive)
  t.equal((await bodyless('PUT', `/webhooks/${subscription.id as string}/secrets/${inactive.id as string}/activate`)).statusCode, 204)
  const old = secret.json().secrets.find((s: { isActive: boolean }) => s.isActive)
  t.equal((await bodyless('DELETE', `/webhooks/${subscription.id as string}/secrets/${old.id as string}`)).statusCode, 204)
  t.equal((await bodyless('DELETE', `/webhooks/${subscription.id as string}`)).statusCode, 204)
})

t.test('POST /payment-intents should take every field of Dojo\'s spec, PascalCase keys too, and echo them', async (t) => {
  const app = await buildApp(t)
  const manual = await call(app, 'POST', '/payment-intents', { amount: { value: 1000, currencyCode: 'GBP' }, reference: 'Order 234', captureMode: 'Manual', AutoExpireAction: 'Capture', AutoExpireIn: '00:00:55' })
  t.equal(manual.status, 200)
  t.match(manual.body, { captureMode: 'Manual', autoExpireAction: 'Capture', autoExpireIn: '00:00:55' })
  const all = await call(app, 'POST', '/payment-intents', {
    amount: { value: 1000, currencyCode: 'GBP' },
    reference: 'Order 235',
    actionLink: { url: 'https://shop.example/invoice.pdf', label: 'Invoice', action: 'DownloadFile', fileName: 'invoice.pdf' },
    isNotOnlineCheckout: true,
    generateRemoteToken: false,
    orderDetails: { id: 'o-1', externalId: 'ext-1' },
    serviceChargeAmount: { value: 100, currencyCode: 'GBP' },
    customer: { emailAddress: 'a@example.com', savedCardId: 'card-1' }
  })
  t.equal(all.status, 200)
  t.match(all.body, { actionLink: { label: 'Invoice' }, orderDetails: { id: 'o-1' }, serviceChargeAmount: { value: 100 }, customer: { emailAddress: 'a@example.com' } })
  t.equal(all.body.customer.savedCardId, undefined, 'saved-card fields stay in')
  const tooShort = await call(app, 'POST', '/payment-intents', { amount: { value: 1000, currencyCode: 'GBP' }, reference: 'r', captureMode: 'Manual', autoExpireIn: '00:00:10' })
  t.equal(tooShort.status, 400)
  t.ok(tooShort.body.errors.AutoExpireIn)
})

t.test('autoExpireAction should capture or release an Authorized Manual intent once autoExpireIn has passed', async (t) => {
  const app = await buildApp(t)
  const capture = await createIntent(app, { captureMode: 'Manual', autoExpireIn: '00:01:00', autoExpireAction: 'Capture' })
  const release = await createIntent(app, { captureMode: 'Manual', autoExpireIn: '00:01:00' })
  for (const i of [capture, release]) await pay(app, i.id, CARDS.success)
  app.sandbox.expireDue()
  t.equal((await call(app, 'GET', `/payment-intents/${capture.id as string}`)).body.status, 'Authorized', 'not before autoExpireIn')
  for (const i of [capture, release]) app.sandbox.findIntent(i.id)!.authorizedAt = new Date(Date.now() - 61_000)
  app.sandbox.expireDue()
  const captured = (await call(app, 'GET', `/payment-intents/${capture.id as string}`)).body
  t.equal(captured.status, 'Captured')
  t.equal(captured.captures[0].amount, 1050)
  t.equal((await call(app, 'GET', `/payment-intents/${release.id as string}`)).body.status, 'Reversed', 'Release is the default')
})

t.test('GET /payment-intents/refunds/{refundId} should return a refund of this account only', async (t) => {
  const app = await buildApp(t)
  const intent = await createIntent(app)
  await pay(app, intent.id, CARDS.success)
  const refund = await call(app, 'POST', `/payment-intents/${intent.id as string}/refunds`, { amount: 50, refundReason: 'broken' }, { idempotencyKey: 'k1' })
  const found = await call(app, 'GET', `/payment-intents/refunds/${refund.body.refundId as string}`)
  t.equal(found.status, 200)
  t.same(found.body, refund.body)
  const other = await app.inject({ method: 'GET', url: `/payment-intents/refunds/${refund.body.refundId as string}`, headers: headers(OTHER_KEY) })
  t.equal(other.statusCode, 404)
})

t.test('POST /payment-intents/{id}/receipt should record a receipt of a paid intent and answer 204', async (t) => {
  const app = await buildApp(t)
  const intent = await createIntent(app)
  const unpaid = await call(app, 'POST', `/payment-intents/${intent.id as string}/receipt`, { emails: ['a@example.com'] })
  t.equal(unpaid.status, 409)
  await pay(app, intent.id, CARDS.success)
  const sent = await call(app, 'POST', `/payment-intents/${intent.id as string}/receipt`, { Emails: ['a@example.com'] })
  t.equal(sent.status, 204)
  t.same(app.sandbox.findIntent(intent.id)!.receipts, [['a@example.com']])
  const bad = await call(app, 'POST', `/payment-intents/${intent.id as string}/receipt`, {})
  t.equal(bad.status, 400)
  t.ok(bad.body.errors.Emails)
})
