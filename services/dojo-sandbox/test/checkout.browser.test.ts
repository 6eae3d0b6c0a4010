import t from 'tap'
import { assertAccessible, launchChromium, payAtCheckout, type TestCard } from '@paylinks/test-kit/browser'
import { createIntent, headers, KEY, startReceiver, startSandbox } from './helper.js'

t.test('a customer should pay on the checkout page with each test card, including the 3-D Secure challenge, on pages that pass WCAG 2 A/AA', async (t) => {
  const { app, url } = await startSandbox(t)
  app.sandbox.configureAccount(KEY, { tradingName: 'Corner Bakery' })
  const receiver = await startReceiver(t)
  const sub = await app.inject({ method: 'POST', url: '/webhooks', headers: headers(), payload: { events: ['payment_intent.status_updated'], url: receiver.url } })
  t.equal(sub.statusCode, 200)
  const browser = await launchChromium(t)
  // bypassCSP: the page's CSP allows no script, and axe is one.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, bypassCSP: true })
  const page = await context.newPage()
  const redirectUrl = `${url}/healthz`

  const fill = async (card: TestCard): Promise<void> => { await payAtCheckout(page, card, 'Test Person') }

  // Declined, then another card succeeds and redirects.
  const a = await createIntent(app, { config: { redirectUrl, title: 'Flat white' } })
  await page.goto(a.paymentLink)
  t.ok(await page.getByText('£10.50').isVisible())
  t.ok(await page.getByText('Flat white').isVisible())
  t.ok(await page.getByText('Corner Bakery').isVisible(), "the account's trading name")
  // The sandbox banner: every test card with its code and outcome, and the 3-D Secure code.
  const banner = page.getByRole('complementary', { name: 'Sandbox: no real money moves' })
  t.ok(await banner.isVisible())
  const rows = await banner.getByRole('row').allTextContents()
  t.match(rows.join('\n'), /5200 0000 0000 1005\s*020\s*Payment succeeds/)
  t.match(rows.join('\n'), /5200 0000 0000 1096\s*020\s*3-D Secure challenge: code 1234/)
  t.match(rows.join('\n'), /4456 5300 0000 1013\s*341\s*Declined/)
  t.equal(await banner.getByTestId('challenge-code').textContent(), '1234')
  await assertAccessible(t, page, 'the checkout page')
  await fill({ number: '4456 5300 0000 1013', expiry: '12/29', cvv: '341' })
  await page.getByText('Your card was declined').waitFor()
  await assertAccessible(t, page, 'the declined page')
  const declined = (await app.inject({ method: 'GET', url: `/payment-intents/${a.id as string}`, headers: headers() })).json()
  t.equal(declined.status, 'Created')
  t.equal(declined.paymentEvents.at(-1).eventType, 'Declined')
  await fill({ number: '5200 0000 0000 1005', expiry: '12/29', cvv: '020' })
  await page.waitForURL(redirectUrl)
  const paid = (await app.inject({ method: 'GET', url: `/payment-intents/${a.id as string}`, headers: headers() })).json()
  t.match(paid, { status: 'Captured', paymentDetails: { card: { cardNumber: '52000000****1005' } } })
  await page.goto(a.paymentLink)
  await page.getByText('already been paid').waitFor()
  await assertAccessible(t, page, 'the already-paid page')

  // The challenge: a wrong code declines, 1234 passes.
  const b = await createIntent(app)
  await page.goto(b.paymentLink)
  await fill({ number: '5200 0000 0000 1096', expiry: '12/29', cvv: '020' })
  t.ok(await page.getByRole('complementary', { name: 'Sandbox: no real money moves' }).isVisible(), 'the 3-D Secure page shows the banner too')
  await assertAccessible(t, page, 'the 3-D Secure page')
  await page.getByLabel('Verification code').fill('0000')
  await page.getByRole('button', { name: 'Submit' }).click()
  await page.getByText('Your card was declined').waitFor()
  await fill({ number: '5200 0000 0000 1096', expiry: '12/29', cvv: '020' })
  await page.getByLabel('Verification code').fill('1234')
  await page.getByRole('button', { name: 'Submit' }).click()
  await page.getByText('Payment successful').waitFor()
  await assertAccessible(t, page, 'the success page')
  t.equal((await app.inject({ method: 'GET', url: `/payment-intents/${b.id as string}`, headers: headers() })).json().status, 'Captured')

  // Inline validation.
  const c = await createIntent(app)
  await page.goto(c.paymentLink)
  await fill({ number: '1234 5678 9012 3456', expiry: '01/20', cvv: '020' })
  await page.getByText('Enter a valid card number.').waitFor()
  t.ok(await page.getByText('This card has expired.').isVisible())
  await assertAccessible(t, page, 'the checkout page with errors')

  const hooks = await receiver.waitFor(2)
  t.same(hooks.map((h) => [h.json.data.paymentIntentId, h.json.data.paymentStatus]), [[a.id, 'Captured'], [b.id, 'Captured']])
})
