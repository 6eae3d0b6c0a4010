import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, CARDS, createIntent, headers, KEY, pay } from './helper.js'

// Dojo's reversal rules and Manual auto-expiry, with the sandbox clock moved forward instead of waiting.

async function call (app: FastifyInstance, method: string, url: string, payload?: unknown) {
  const res = await app.inject({ method: method as 'GET', url, headers: headers(KEY), ...(payload === undefined ? {} : { payload: payload as object }) })
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json() }
}
const advance = async (app: FastifyInstance, advanceMs: number): Promise<void> => {
  const res = await app.inject({ method: 'POST', url: '/sandbox/clock', payload: { advanceMs } })
  if (res.statusCode !== 200) throw new Error(`clock: ${res.statusCode} ${res.body}`)
}
const status = async (app: FastifyInstance, id: string): Promise<string> => (await call(app, 'GET', `/payment-intents/${id}?returnCanceled=true`)).body.status
const DAY = 86_400_000

t.test('reversal should follow Dojo: Auto + Captured on the same day, Manual + Authorized within 7 days, Manual + Captured never', async (t) => {
  const app = await buildApp(t)
  const auto = await createIntent(app)
  await pay(app, auto.id, CARDS.success)
  await advance(app, DAY)
  const late = await call(app, 'POST', `/payment-intents/${auto.id as string}/reversal`)
  t.equal(late.status, 409, 'an Auto payment from another day is only refunded')
  t.match(late.body.detail, /reversed on that day/)
  t.equal((await call(app, 'POST', `/payment-intents/${auto.id as string}/refunds`, { amount: 1000 })).status, 400, 'the refund needs its idempotencyKey, nothing else')

  const manual = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Release', autoExpireIn: '06.00:00:00' })
  await pay(app, manual.id, CARDS.success)
  await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 100 })
  const captured = await call(app, 'POST', `/payment-intents/${manual.id as string}/reversal`)
  t.equal(captured.status, 409, 'a Manual payment once captured is only refunded')
  t.match(captured.body.detail, /only be refunded/)
  t.equal(await status(app, manual.id), 'Captured')

  const authorized = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Release' })
  await pay(app, authorized.id, CARDS.success)
  await advance(app, 6 * DAY)
  t.equal((await call(app, 'POST', `/payment-intents/${authorized.id as string}/reversal`)).status, 200, 'within 7 days of the authorisation')
  t.equal(await status(app, authorized.id), 'Reversed')
})

t.test('an uncaptured Manual intent should be released or captured as autoExpireAction says, or reversed after 7 days', async (t) => {
  const app = await buildApp(t)
  const release = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Release', autoExpireIn: '00:10:00' })
  const capture = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Capture', autoExpireIn: '00:10:00', amount: { value: 900, currencyCode: 'GBP' } })
  const partly = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Capture', autoExpireIn: '00:10:00', amount: { value: 900, currencyCode: 'GBP' } })
  const none = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Release' })
  for (const i of [release, capture, partly, none]) await pay(app, i.id, CARDS.success)
  t.equal((await call(app, 'POST', `/payment-intents/${partly.id as string}/captures`, { amount: 300 })).status, 200)
  await advance(app, 9 * 60_000)
  t.same([await status(app, release.id), await status(app, capture.id)], ['Authorized', 'Authorized'], 'not before autoExpireIn')
  await advance(app, 2 * 60_000)
  t.equal(await status(app, release.id), 'Reversed')
  const captured = (await call(app, 'GET', `/payment-intents/${capture.id as string}`)).body
  t.match(captured, { status: 'Captured', captures: [{ amount: 900 }] })
  t.equal(await status(app, partly.id), 'Captured', 'a partly captured intent is Captured already: nothing to expire')
  t.equal(await status(app, none.id), 'Authorized')
  await advance(app, 7 * DAY)
  t.equal(await status(app, none.id), 'Reversed', 'Dojo reverses an uncaptured authorisation after 7 days')
})

t.test('every status change should send payment_intent.status_updated', async (t) => {
  const app = await buildApp(t)
  const sub = (await call(app, 'POST', '/webhooks', { events: ['payment_intent.status_updated'], url: 'http://127.0.0.1:9/hook' })).body
  t.equal((await app.inject({ method: 'PUT', url: `/sandbox/webhooks/${sub.id as string}/fault`, payload: { mode: 'drop' } })).statusCode, 200)
  const manual = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Release', amount: { value: 1000, currencyCode: 'GBP' } })
  await pay(app, manual.id, CARDS.success)
  await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 400 })
  await call(app, 'POST', `/payment-intents/${manual.id as string}/captures`, { amount: 600 })
  await app.inject({ method: 'POST', url: `/payment-intents/${manual.id as string}/refunds`, headers: headers(KEY, { idempotencyKey: 'r1' }), payload: { amount: 300 } })
  await app.inject({ method: 'POST', url: `/payment-intents/${manual.id as string}/refunds`, headers: headers(KEY, { idempotencyKey: 'r2' }), payload: { amount: 700 } })
  const expiring = await createIntent(app, { captureMode: 'Manual', autoExpireAction: 'Release', autoExpireIn: '00:01:00' })
  await pay(app, expiring.id, CARDS.success)
  const canceled = await createIntent(app)
  await call(app, 'DELETE', `/payment-intents/${canceled.id as string}`)
  await advance(app, 2 * 60_000)
  const log = (await app.inject({ method: 'GET', url: `/sandbox/webhooks/${sub.id as string}/deliveries` })).json().deliveries as Array<{ paymentIntentId: string, paymentStatus: string }>
  const of = (id: string): string[] => log.filter((d) => d.paymentIntentId === id).map((d) => d.paymentStatus)
  // Partial captures and refunds keep Captured: Dojo sends no status_updated for them.
  t.same(of(manual.id), ['Authorized', 'Captured', 'Refunded'])
  t.same(of(expiring.id), ['Authorized', 'Reversed'], 'the auto-expiry too')
  t.same(of(canceled.id), ['Canceled'])
})
