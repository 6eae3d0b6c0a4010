import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import type { TestContext } from '@paylinks/test-kit'
import { createIntent, headers, startReceiver, startSandbox } from './helper.js'

// Without these flags Debian's chromium reaches for the network, which is closed here.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

async function launch (t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS })
  t.teardown(() => browser.close())
  return browser
}

t.test('a customer should pay on the checkout page with each test card, including the 3-D Secure challenge', async (t) => {
  const { app, url } = await startSandbox(t)
  const receiver = await startReceiver(t)
  const sub = await app.inject({ method: 'POST', url: '/webhooks', headers: headers(), payload: { events: ['payment_intent.status_updated'], url: receiver.url } })
  t.equal(sub.statusCode, 200)
  const browser = await launch(t)
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })
  const page = await context.newPage()
  const redirectUrl = `${url}/healthz`

  const fill = async (card: { number: string, expiry: string, cvv: string }) => {
    await page.getByLabel('Card number').fill(card.number)
    await page.getByLabel('Expiry date').fill(card.expiry)
    await page.getByLabel('Security code').fill(card.cvv)
    await page.getByLabel('Name on card').fill('Test Person')
    await page.getByRole('button', { name: 'Pay' }).click()
  }

  // Declined, then another card succeeds and redirects.
  const a = await createIntent(app, { config: { redirectUrl, title: 'Flat white' } })
  await page.goto(a.paymentLink)
  t.ok(await page.getByText('£10.50').isVisible())
  t.ok(await page.getByText('Flat white').isVisible())
  await fill({ number: '4456 5300 0000 1013', expiry: '12/29', cvv: '341' })
  await page.getByText('Your card was declined').waitFor()
  const declined = (await app.inject({ method: 'GET', url: `/payment-intents/${a.id as string}`, headers: headers() })).json()
  t.equal(declined.status, 'Created')
  t.equal(declined.paymentEvents.at(-1).eventType, 'Declined')
  await fill({ number: '5200 0000 0000 1005', expiry: '12/29', cvv: '020' })
  await page.waitForURL(redirectUrl)
  const paid = (await app.inject({ method: 'GET', url: `/payment-intents/${a.id as string}`, headers: headers() })).json()
  t.match(paid, { status: 'Captured', paymentDetails: { card: { cardNumber: '52000000****1005' } } })
  await page.goto(a.paymentLink)
  await page.getByText('already been paid').waitFor()

  // The challenge: a wrong code declines, 1234 passes.
  const b = await createIntent(app)
  await page.goto(b.paymentLink)
  await fill({ number: '5200 0000 0000 1096', expiry: '12/29', cvv: '020' })
  await page.getByLabel('Verification code').fill('0000')
  await page.getByRole('button', { name: 'Submit' }).click()
  await page.getByText('Your card was declined').waitFor()
  await fill({ number: '5200 0000 0000 1096', expiry: '12/29', cvv: '020' })
  await page.getByLabel('Verification code').fill('1234')
  await page.getByRole('button', { name: 'Submit' }).click()
  await page.getByText('Payment successful').waitFor()
  t.equal((await app.inject({ method: 'GET', url: `/payment-intents/${b.id as string}`, headers: headers() })).json().status, 'Captured')

  // Inline validation.
  const c = await createIntent(app)
  await page.goto(c.paymentLink)
  await fill({ number: '1234 5678 9012 3456', expiry: '01/20', cvv: '020' })
  await page.getByText('Enter a valid card number.').waitFor()
  t.ok(await page.getByText('This card has expired.').isVisible())

  const hooks = await receiver.waitFor(2)
  t.same(hooks.map((h) => [h.json.data.paymentIntentId, h.json.data.paymentStatus]), [[a.id, 'Captured'], [b.id, 'Captured']])
})
