// An ended link is not a dead end: where its merchant allows it, the customer of an expired or
// canceled link asks for a fresh one from its short URL's page (POST /l/{code}/renew), gets it
// issued (a new Dojo intent, the two links naming each other) and opened at once. Real
// link-issuer, sandbox, recorder, Postgres and NATS; the expiry by the rule, the rest end to end.
import t from 'tap'
import { orderSubject } from '@paylinks/contracts'
import { connectMessaging } from '@paylinks/messaging'
import { onTeardown } from '@paylinks/test-kit'
import { isRenewable } from '../src/issuing/decisions.js'
import { linkIdFor, renewalReferenceFor } from '../src/link.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, runAdmin, startRecorder, startSandbox, until } from './helpers.js'

const sandbox = await startSandbox(t)
const env = await issuerEnv(t, { PUBLIC_URL: 'https://links.shop.example/' })
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const merchant = await createTestMerchant(t, env, sandbox.url)
const strict = await createTestMerchant(t, env, sandbox.url)
// Before any request, so no cached merchant hides it; through the admin command merchants use.
const allowed = await runAdmin({ DATABASE_URL: env.DATABASE_URL! }, 'merchant', 'renewal', 'on', '--merchant', merchant.id)
t.equal(allowed.code, 0, allowed.err)
t.match(allowed.out, /renewal of expired or canceled links allowed/)
t.equal((await runAdmin({ DATABASE_URL: env.DATABASE_URL! }, 'merchant', 'renewal', 'maybe', '--merchant', merchant.id)).code, 2, 'on or off, nothing else')

async function create (apiKey: string, reference: string, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(apiKey), payload: { reference, amount: { value: 4250, currencyCode: 'GBP' }, ...extra } })
  t.equal(res.statusCode, 201, res.body)
  return res.json()
}
async function cancel (apiKey: string, id: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/v1/payment-links/${id}/cancel`, headers: auth(apiKey), payload: {} })
  t.equal(res.statusCode, 200, res.body)
}
const get = async (apiKey: string, id: string): Promise<any> => (await app.inject({ method: 'GET', url: `/v1/payment-links/${id}`, headers: auth(apiKey) })).json()
const events = async (apiKey: string, id: string): Promise<Array<{ type: string, data: any }>> =>
  (await app.inject({ method: 'GET', url: `/v1/payment-links/${id}/events`, headers: auth(apiKey) })).json().data
const path = (shortUrl: string): string => new URL(shortUrl).pathname
const renew = async (shortUrl: string): Promise<Awaited<ReturnType<typeof app.inject>>> =>
  await app.inject({ method: 'POST', url: `${path(shortUrl)}/renew`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })

t.test('an expired link renewed: a canceled link\'s customer should get a fresh link, opened at once and linked both ways', async (t) => {
  const old = await create(merchant.apiKey, 'renew-1', {
    description: 'Two tickets', customer: { email: 'ann@example.com', name: 'Ann' }, redirectUrl: 'https://shop.example/thanks', metadata: { basket: 'b-17' }
  })
  await cancel(merchant.apiKey, old.id)

  const ended = await app.inject({ method: 'GET', url: path(old.shortUrl) })
  t.equal(ended.statusCode, 410)
  t.match(ended.body, /This payment link was canceled/)
  t.match(ended.body, new RegExp(`<form method="post" action="${path(old.shortUrl)}/renew"><button type="submit">Get a new payment link</button></form>`))
  t.match(ended.headers['content-security-policy'], new RegExp(`form-action 'self' ${new URL(old.url).origin};`), 'the page may post to its own origin, and be redirected on to the checkout, nowhere else')

  const renewed = await renew(old.shortUrl)
  t.equal(renewed.statusCode, 303, renewed.body)
  const location = String(renewed.headers.location)
  t.match(location, /^https:\/\/links\.shop\.example\/l\/[A-Za-z0-9_-]{22}$/, 'on to the new link\'s short URL')
  t.not(location, old.shortUrl)

  // The new short URL opens the new link at once: counted, and on to its own checkout.
  const opened = await app.inject({ method: 'GET', url: path(location) })
  t.equal(opened.statusCode, 302)
  const newId = `lnk_${path(location).slice('/l/'.length)}`
  const fresh = await get(merchant.apiKey, newId)
  t.equal(opened.headers.location, fresh.url)
  t.not(fresh.paymentIntentId, old.paymentIntentId, 'a new Dojo intent')
  t.match(fresh, {
    status: 'issued',
    reference: 'renew-1~2',
    amount: { value: 4250, currencyCode: 'GBP' },
    description: 'Two tickets',
    customer: { email: 'ann@example.com', name: 'Ann' },
    redirectUrl: 'https://shop.example/thanks',
    metadata: { basket: 'b-17' },
    captureMode: 'Auto',
    renewalOf: old.id,
    renewedAs: null,
    email: { requested: false }
  })
  t.ok(Date.parse(fresh.expiresAt) > Date.now() + 3_600_000, 'a fresh expiry, by the merchant\'s link expiry')
  t.equal((await get(merchant.apiKey, old.id)).renewedAs, newId)
  t.equal((await get(merchant.apiKey, old.id)).status, 'canceled', 'the old link stays canceled')
  await until(async () => (await get(merchant.apiKey, newId)).opened.count === 1, { what: 'the new link\'s open recorded', timeoutMs: 10_000 })

  // Both timelines say so.
  t.match((await events(merchant.apiKey, old.id)).map((e) => e.type), ['payment-link.requested', 'payment-link.issued', 'payment-link.canceled', 'payment-link.renewed'])
  t.match((await events(merchant.apiKey, old.id)).at(-1)!.data, { linkId: old.id, renewedAs: newId })
  t.match((await events(merchant.apiKey, newId))[0], { type: 'payment-link.requested', data: { renewalOf: old.id } })

  // Asked again (a second click, a reload of the POST): the same new link, never a third.
  const again = await renew(old.shortUrl)
  t.equal(again.statusCode, 303)
  t.equal(again.headers.location, location)
  t.equal((await events(merchant.apiKey, old.id)).filter((e) => e.type === 'payment-link.renewed').length, 1)

  // The renewal can itself be renewed once it has ended: a chain.
  await cancel(merchant.apiKey, newId)
  const chained = await renew(location)
  t.equal(chained.statusCode, 303, chained.body)
  const thirdId = `lnk_${path(String(chained.headers.location)).slice('/l/'.length)}`
  t.match(await get(merchant.apiKey, thirdId), { reference: 'renew-1~3', renewalOf: newId, status: 'issued' })
})

t.test('a renewal should be refused, plainly, where the merchant does not allow it or the link has not ended', async (t) => {
  const other = await create(strict.apiKey, 'strict-1')
  await cancel(strict.apiKey, other.id)
  const page = await app.inject({ method: 'GET', url: path(other.shortUrl) })
  t.equal(page.statusCode, 410)
  t.notMatch(page.body, /<form/, 'no button where the merchant does not renew')
  t.match(page.headers['content-security-policy'], /form-action 'none'/)
  const refused = await renew(other.shortUrl)
  t.equal(refused.statusCode, 403)
  t.match(refused.headers['content-type'], /text\/html/)
  t.match(refused.body, /does not issue new links from expired or canceled ones/)
  t.equal((await get(strict.apiKey, other.id)).renewedAs, null)

  const live = await create(merchant.apiKey, 'renew-live')
  const notEnded = await renew(live.shortUrl)
  t.equal(notEnded.statusCode, 409)
  t.match(notEnded.body, /Only a link that has expired or was canceled can be renewed/)
  t.equal((await get(merchant.apiKey, live.id)).status, 'issued')
  t.equal((await app.inject({ method: 'POST', url: '/l/AAAAAAAAAAAAAAAAAAAAAA/renew' })).statusCode, 404)
})

t.test('an order\'s link renewed should keep its order id', async (t) => {
  const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'renewal-test' })
  onTeardown(t, () => messaging.close())
  const orderId = `ord-renew-${Date.now().toString(36)}`
  await messaging.js.publish(orderSubject(env.ORDERS_SUBJECT_PREFIX!, merchant.id), JSON.stringify({ orderId, merchantId: merchant.id, amount: { value: 900, currencyCode: 'EUR' } }), { msgID: orderId })
  const oldId = linkIdFor(merchant.id, orderId)
  await until(async () => (await get(merchant.apiKey, oldId)).status === 'issued', { what: 'the order\'s link issued', timeoutMs: 15_000 })
  const old = await get(merchant.apiKey, oldId)
  await cancel(merchant.apiKey, oldId)
  const renewed = await renew(old.shortUrl)
  t.equal(renewed.statusCode, 303, renewed.body)
  const fresh = await get(merchant.apiKey, `lnk_${path(String(renewed.headers.location)).slice('/l/'.length)}`)
  t.match(fresh, { orderId, source: 'order', renewalOf: oldId, status: 'issued', amount: { value: 900, currencyCode: 'EUR' } })
})

t.test('only an expired (or past its expiry) or canceled link should be renewable, and its reference marked by its place in the chain', async (t) => {
  const later = new Date(Date.now() + 60_000).toISOString()
  const past = new Date(Date.now() - 1000).toISOString()
  t.ok(isRenewable({ status: 'expired', expiresAt: past }))
  t.ok(isRenewable({ status: 'issued', expiresAt: past }), 'past its expiry before Dojo says so')
  t.ok(isRenewable({ status: 'canceled', expiresAt: later }))
  t.notOk(isRenewable({ status: 'issued', expiresAt: later }))
  for (const status of ['requested', 'failed', 'authorized', 'paid', 'captured', 'partially_refunded', 'refunded', 'released'] as const) t.notOk(isRenewable({ status, expiresAt: past }), status)

  t.equal(renewalReferenceFor({ reference: 'inv-7' }), 'inv-7~2')
  t.equal(renewalReferenceFor({ reference: 'inv-7~2', renewalOf: 'lnk_aaaaaaaaaaaa' }), 'inv-7~3')
  t.equal(renewalReferenceFor({ reference: 'a~9' }), 'a~9~2', 'a merchant\'s own `~9` is no place in a chain')
  const long = renewalReferenceFor({ reference: 'x'.repeat(60) })
  t.equal(long.length, 60)
  t.match(long, /~2$/)
})
