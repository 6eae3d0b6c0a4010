// The renewal as a customer's browser meets it: the ended link's page and its button, under the
// page's own CSP (a form may post to this origin, and its redirects end at Dojo's checkout), on
// to the new link's checkout. Real chromium, link-issuer listening, sandbox, recorder, NATS.
import t from 'tap'
import { assertAccessible, launchChromium } from '@paylinks/test-kit/browser'
import { auth, runAdmin, startListeningIssuer } from './helpers.js'

t.test('a customer should get from an ended link\'s page to a fresh checkout with one click, on a page that passes WCAG 2 A/AA', async (t) => {
  const { env, app, merchant } = await startListeningIssuer(t)
  t.equal((await runAdmin({ DATABASE_URL: env.DATABASE_URL! }, 'merchant', 'renewal', 'on', '--merchant', merchant.id)).code, 0)

  const created = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(merchant.apiKey), payload: { reference: 'browser-1', amount: { value: 1250, currencyCode: 'GBP' } } })
  t.equal(created.statusCode, 201, created.body)
  const old = created.json()
  t.equal((await app.inject({ method: 'POST', url: `/v1/payment-links/${String(old.id)}/cancel`, headers: auth(merchant.apiKey), payload: {} })).statusCode, 200)

  const browser = await launchChromium(t)
  // bypassCSP: the page's CSP allows no script, and axe is one (this context only looks).
  const looking = await (await browser.newContext({ bypassCSP: true })).newPage()
  await looking.goto(old.shortUrl)
  t.ok(await looking.getByRole('heading', { name: 'This payment link was canceled' }).isVisible())
  await assertAccessible(t, looking, 'the canceled link\'s page with its button')

  // The customer's own context keeps the page's CSP: the click must get through it.
  const page = await (await browser.newContext()).newPage()
  await page.goto(old.shortUrl)
  await Promise.all([page.waitForURL(/\/checkout\//), page.getByRole('button', { name: 'Get a new payment link' }).click()])
  const renewed = (await app.inject({ method: 'GET', url: `/v1/payment-links/${String(old.id)}`, headers: auth(merchant.apiKey) })).json()
  const fresh = (await app.inject({ method: 'GET', url: `/v1/payment-links/${String(renewed.renewedAs)}`, headers: auth(merchant.apiKey) })).json()
  t.equal(page.url(), fresh.url, 'on the new link\'s checkout')
  t.not(fresh.url, old.url)
  t.ok(await page.getByText('£12.50').isVisible(), 'the same amount to pay')
})
