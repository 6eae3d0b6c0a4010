import t from 'tap'
import { buildApp, CARDS, createIntent, pay } from './helper.js'

const form = (card: Record<string, string>) => new URLSearchParams(card).toString()
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

t.test('the checkout page should show merchant, formatted amount, title and reference, all escaped', async (t) => {
  const app = await buildApp(t, { merchantName: 'Tea & <Cakes>' })
  const i = await createIntent(app, { amount: { value: 123456, currencyCode: 'EUR' }, reference: '<script>alert(1)</script>', config: { title: 'Order "42"' } })
  const res = await app.inject({ method: 'GET', url: `/checkout/${i.id as string}` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
  t.match(res.body, '€1,234.56')
  t.match(res.body, 'Tea &amp; &lt;Cakes&gt;')
  t.match(res.body, 'Order &quot;42&quot;')
  t.match(res.body, '&lt;script&gt;alert(1)&lt;/script&gt;')
  t.notMatch(res.body, '<script>')
  for (const label of ['Card number', 'Expiry date', 'Security code', 'Name on card']) t.match(res.body, `>${label}</label>`)
  t.match(res.body, '>Pay</button>')
  t.equal((await app.inject({ method: 'GET', url: '/checkout/pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA' })).statusCode, 404)
})

t.test('the checkout form should show inline errors and keep no card data', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app)
  const res = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}`, headers: FORM, payload: form({ cardNumber: '5200 0000 0000 1006', expiry: '01/20', cvv: '1', cardName: '' }) })
  t.equal(res.statusCode, 400)
  t.match(res.body, 'Enter a valid card number.')
  t.match(res.body, 'This card has expired.')
  t.match(res.body, 'Enter the 3 or 4 digit security code.')
  t.match(res.body, 'Enter the name on the card.')
  t.match(res.body, 'aria-invalid="true"')
  t.notMatch(res.body, '5200 0000 0000 1006', 'the number is not echoed')
  const declined = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}`, headers: FORM, payload: form(CARDS.declined) })
  t.match(declined.body, 'Your card was declined')
  t.match(declined.body, '>Card number</label>', 'the customer can try another card')
})

t.test('the checkout page should redirect on success, offer Cancel, and show paid, canceled and expired links as closed', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app, { config: { redirectUrl: 'https://shop.example/done?order=1', cancelUrl: 'https://shop.example/cancel' } })
  const page = await app.inject({ method: 'GET', url: `/checkout/${i.id as string}` })
  t.match(page.body, '<a class="cancel" href="https://shop.example/cancel">Cancel</a>')
  const paid = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}`, headers: FORM, payload: form({ ...CARDS.success, expiry: '12/24' }) })
  t.equal(paid.statusCode, 303, 'the legacy 12/24 expiry is accepted for test cards')
  t.equal(paid.headers.location, 'https://shop.example/done?order=1')
  t.match((await app.inject({ method: 'GET', url: `/checkout/${i.id as string}` })).body, 'already been paid')
  t.equal((await app.inject({ method: 'POST', url: `/checkout/${i.id as string}`, headers: FORM, payload: form(CARDS.success) })).statusCode, 409)

  const plain = await createIntent(app)
  const ok = await app.inject({ method: 'POST', url: `/checkout/${plain.id as string}`, headers: FORM, payload: form(CARDS.success) })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, 'Payment successful')

  const canceled = await createIntent(app)
  await app.inject({ method: 'DELETE', url: `/payment-intents/${canceled.id as string}`, headers: { authorization: 'Basic sk_sandbox_test_key_1', version: '2026-02-27' } })
  t.match((await app.inject({ method: 'GET', url: `/checkout/${canceled.id as string}` })).body, 'can no longer be paid')
  const expired = await createIntent(app)
  await app.inject({ method: 'POST', url: `/sandbox/payment-intents/${expired.id as string}/expire` })
  const expiredPage = (await app.inject({ method: 'GET', url: `/checkout/${expired.id as string}` })).body
  t.match(expiredPage, 'has expired')
  t.match(expiredPage, 'can no longer be paid')
})

t.test('the 3-D Secure challenge should pass with 1234 and decline anything else', async (t) => {
  const app = await buildApp(t)
  const i = await createIntent(app)
  const challenge = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}`, headers: FORM, payload: form(CARDS.challenge) })
  t.match(challenge.body, '>Verification code</label>')
  t.match(challenge.body, '>Submit</button>')
  const token = /name="token" value="([^"]+)"/.exec(challenge.body)![1]!
  const wrong = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}/challenge`, headers: FORM, payload: form({ token, code: '9999' }) })
  t.match(wrong.body, 'Your card was declined')
  const stale = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}/challenge`, headers: FORM, payload: form({ token, code: '1234' }) })
  t.equal(stale.statusCode, 409, 'a challenge is answered once')
  const again = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}`, headers: FORM, payload: form(CARDS.challenge) })
  const token2 = /name="token" value="([^"]+)"/.exec(again.body)![1]!
  const ok = await app.inject({ method: 'POST', url: `/checkout/${i.id as string}/challenge`, headers: FORM, payload: form({ token: token2, code: '1234' }) })
  t.match(ok.body, 'Payment successful')
  t.equal(app.sandbox.findIntent(i.id)!.status, 'Captured')
  t.match(await pay(app, (await createIntent(app)).id, CARDS.success), { status: 'Captured' })
})
