// A reusable link as payers' browsers meet it: five people open one URL at once and press Pay on
// a link limited to three payments. Real chromium (each person a context of their own, under the
// page's CSP), link-issuer listening, sandbox checkout, recorder, NATS; each payment recorded as
// webhook-ingest records it once Dojo confirms it.
import t from 'tap'
import { assertAccessible, launchChromium, payAtCheckout } from '@paylinks/test-kit/browser'
import { auth, openStore, paymentRecorder, startListeningIssuer, until } from './helpers.js'

t.test('a reusable link with a limit of 3 and 5 concurrent payers should end with exactly 3 payments, the other 2 told plainly', async (t) => {
  const { env, app, merchant } = await startListeningIssuer(t)
  const recordPayment = await paymentRecorder(t, env, await openStore(t, env))

  const created = await app.inject({ method: 'POST', url: '/v1/reusable-links', headers: auth(merchant.apiKey), payload: { reference: 'tickets', amount: { value: 1250, currencyCode: 'GBP' }, description: 'a concert ticket', maxPayments: 3 } })
  t.equal(created.statusCode, 201, created.body)
  const link = created.json()

  const browser = await launchChromium(t)
  // bypassCSP: the page's CSP allows no script, and axe is one (this context only looks).
  const looking = await (await browser.newContext({ bypassCSP: true })).newPage()
  await looking.goto(link.url)
  t.ok(await looking.getByRole('heading', { name: 'Pay Test & Sons <Ltd>' }).isVisible())
  await assertAccessible(t, looking, 'the reusable link\'s page with its Pay button')

  // Five people, each in a browser of their own, have the page open; they all press Pay at once.
  const pages = await Promise.all(Array.from({ length: 5 }, async () => await (await browser.newContext()).newPage()))
  await Promise.all(pages.map(async (page) => await page.goto(link.url)))
  await Promise.all(pages.map(async (page) => {
    await page.getByRole('button', { name: 'Pay £12.50' }).click()
    await page.waitForLoadState()
  }))
  const atCheckout = pages.filter((page) => /\/checkout\//.test(page.url()))
  const turnedAway = pages.filter((page) => !/\/checkout\//.test(page.url()))
  t.equal(atCheckout.length, 3, 'three reach a checkout')
  t.equal(turnedAway.length, 2)
  for (const page of turnedAway) {
    t.ok(await page.getByRole('heading', { name: 'This payment link is no longer available' }).isVisible(), 'told plainly')
    t.ok(await page.getByText('Nothing was charged').isVisible())
  }
  t.equal(new Set(atCheckout.map((page) => page.url())).size, 3, 'each at a checkout of their own')

  await Promise.all(atCheckout.map(async (page) => { await payAtCheckout(page) }))
  const children = (await app.inject({ method: 'GET', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(merchant.apiKey) })).json().children as Array<{ linkId: string }>
  t.equal(children.length, 3)
  for (const child of children) {
    const paymentIntentId = (await app.inject({ method: 'GET', url: `/v1/payment-links/${child.linkId}`, headers: auth(merchant.apiKey) })).json().paymentIntentId
    await until(async () => (await merchant.dojo.getPaymentIntent(paymentIntentId)).status === 'Captured', 15_000, 'paid at the checkout')
    await recordPayment(child.linkId, merchant.dojo)
  }
  await until(async () => (await app.inject({ method: 'GET', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(merchant.apiKey) })).json().payers.completed === 3, 15_000, 'three payments completed')
  t.match((await app.inject({ method: 'GET', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(merchant.apiKey) })).json(),
    { payers: { admitted: 3, held: 0, completed: 3, released: 0 }, remaining: 0 })

  const full = await (await browser.newContext({ bypassCSP: true })).newPage()
  await full.goto(link.url)
  t.ok(await full.getByRole('heading', { name: 'This payment link is no longer available' }).isVisible(), 'the page itself says so once full')
  await assertAccessible(t, full, 'the reusable link\'s page once no longer available')
})
