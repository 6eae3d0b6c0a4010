// Reusable links over HTTP as partners and payers meet them: the partner API (create, replay,
// change, deactivate, list; nothing changed without credentials or by another merchant) and
// the payers' POST /r/{code}/pay racing for the places. Real link-issuer, sandbox, recorder,
// Postgres and NATS; a payment is recorded as webhook-ingest records it once Dojo confirms it.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, paymentRecorder, startRecorder, startSandbox, until } from './helpers.js'

const sandbox = await startSandbox(t)
const env = await issuerEnv(t, { PUBLIC_URL: 'https://links.shop.example' })
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const merchant = await createTestMerchant(t, env, sandbox.url)
const other = await createTestMerchant(t, env, sandbox.url)
const store = await openStore(t, env)
const recordPayment = await paymentRecorder(t, env, store)

const price = { value: 1500, currencyCode: 'GBP' }
async function create (body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Awaited<ReturnType<typeof app.inject>>> {
  return await app.inject({ method: 'POST', url: '/v1/reusable-links', headers: { ...auth(merchant.apiKey), ...headers }, payload: body })
}
const get = async (id: string, apiKey = merchant.apiKey): Promise<Awaited<ReturnType<typeof app.inject>>> =>
  await app.inject({ method: 'GET', url: `/v1/reusable-links/${id}`, headers: auth(apiKey) })
const path = (url: string): string => new URL(url).pathname
/** A payer's client asking to pay, as an API caller (JSON answers). */
const pay = async (url: string): Promise<Awaited<ReturnType<typeof app.inject>>> =>
  await app.inject({ method: 'POST', url: `${path(url)}/pay`, headers: { accept: 'application/json' } })

t.test('POST /v1/reusable-links should create a link once per reference, and only for its merchant', async (t) => {
  const reference = `menu-${randomUUID().slice(0, 8)}`
  const key = randomUUID()
  const created = await create({ reference, amount: price, description: 'Lunch menu', maxPayments: 2 }, { 'idempotency-key': key })
  t.equal(created.statusCode, 201, created.body)
  const link = created.json()
  t.match(link, { reference, amount: price, maxPayments: 2, active: true, payers: { admitted: 0, held: 0, completed: 0, released: 0 }, remaining: 2, children: [] })
  t.match(link.url, /^https:\/\/links\.shop\.example\/r\/[A-Za-z0-9_-]+$/)

  const replay = await create({ reference, amount: price, description: 'Lunch menu', maxPayments: 2 }, { 'idempotency-key': key })
  t.equal(replay.statusCode, 201, 'the same key replays')
  t.equal(replay.json().id, link.id)
  const taken = await create({ reference, amount: price })
  t.equal(taken.statusCode, 409)
  t.equal(taken.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(taken.json().code, 'LINK_REFERENCE_TAKEN')

  const bad = await create({ reference: 'x', amount: { value: 10.5, currencyCode: 'GBP' } })
  t.equal(bad.statusCode, 400, 'a fractional amount is refused')
  t.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8')

  // Nothing without credentials, nothing of another merchant's.
  t.equal((await app.inject({ method: 'POST', url: '/v1/reusable-links', payload: { reference: 'anon', amount: price } })).statusCode, 401)
  t.equal((await get(link.id, other.apiKey)).statusCode, 404)
  t.equal((await app.inject({ method: 'PATCH', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(other.apiKey), payload: { amount: { value: 1, currencyCode: 'GBP' } } })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: `/v1/reusable-links/${String(link.id)}/deactivate`, headers: auth(other.apiKey) })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: `/v1/reusable-links/${String(link.id)}/deactivate` })).statusCode, 401)
  t.match((await get(link.id)).json(), { amount: price, active: true }, 'unchanged by them')

  await until(async () => {
    const list = (await app.inject({ method: 'GET', url: '/v1/reusable-links', headers: auth(merchant.apiKey) })).json()
    return list.data.some((r: { id: string }) => r.id === link.id)
  }, 10_000, 'the list shows it')
  const theirs = (await app.inject({ method: 'GET', url: '/v1/reusable-links', headers: auth(other.apiKey) })).json()
  t.same(theirs.data, [], 'not in another merchant\'s list')
})

t.test('a reusable link with a limit of 3 should admit exactly 3 of 8 racing payers, each with a Dojo intent of their own', async (t) => {
  const link = (await create({ reference: `race-${randomUUID().slice(0, 8)}`, amount: price, maxPayments: 3 })).json()
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await pay(link.url)))
  const admitted = answers.filter((a) => a.statusCode === 201).map((a) => a.json())
  const refused = answers.filter((a) => a.statusCode !== 201)
  t.equal(admitted.length, 3, answers.map((a) => a.statusCode).join(' '))
  t.equal(refused.length, 5)
  for (const r of refused) {
    t.equal(r.statusCode, 410)
    t.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(r.json().code, 'LINK_REUSABLE_UNAVAILABLE')
  }
  const intents = new Set<string>()
  for (const a of admitted) {
    const child = (await app.inject({ method: 'GET', url: `/v1/payment-links/${String(a.linkId)}`, headers: auth(merchant.apiKey) })).json()
    t.match(child, { status: 'issued', reusableLinkId: link.id, amount: price, url: a.url })
    const intent = await merchant.dojo.getPaymentIntent(child.paymentIntentId)
    t.equal(intent.paymentSource, 'payment-links')
    intents.add(intent.id)
  }
  t.equal(intents.size, 3, 'three intents')
  t.match((await get(link.id)).json(), { payers: { admitted: 3, held: 3, completed: 0 }, remaining: 0 })

  // A payer's payment completes their place for good.
  const first = admitted[0]
  const intentId = (await app.inject({ method: 'GET', url: `/v1/payment-links/${String(first.linkId)}`, headers: auth(merchant.apiKey) })).json().paymentIntentId
  t.equal((await sandbox.pay(intentId)).status, 200)
  await recordPayment(first.linkId, merchant.dojo)
  await until(async () => (await get(link.id)).json().payers.completed === 1, 10_000, 'the payment counted')
  const after = (await get(link.id)).json()
  t.match(after, { payers: { admitted: 3, held: 2, completed: 1 }, remaining: 0 })
  t.match(after.children.find((c: { linkId: string }) => c.linkId === first.linkId), { status: 'completed' })
  t.equal((await pay(link.url)).statusCode, 410, 'still full')
})

t.test('PATCH should change the price for later payers, and deactivation stop admissions at once', async (t) => {
  const link = (await create({ reference: `price-${randomUUID().slice(0, 8)}`, amount: price })).json()
  const changed = await app.inject({ method: 'PATCH', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(merchant.apiKey), payload: { amount: { value: 2250, currencyCode: 'GBP' } } })
  t.equal(changed.statusCode, 200, changed.body)
  t.match(changed.json(), { amount: { value: 2250 }, maxPayments: null, remaining: null })
  t.equal((await app.inject({ method: 'PATCH', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(merchant.apiKey), payload: {} })).statusCode, 400, 'an empty change is refused')

  const payer = await pay(link.url)
  t.equal(payer.statusCode, 201, payer.body)
  const intent = await merchant.dojo.getPaymentIntent(new URL(payer.json().url).pathname.split('/').at(-1)!)
  t.same(intent.amount, { value: 2250, currencyCode: 'GBP' }, 'the new price at Dojo')

  const page = await app.inject({ method: 'GET', url: path(link.url) })
  t.equal(page.statusCode, 200)
  t.match(page.body, /Pay £22\.50/)
  t.equal((await get(link.id)).json().payers.admitted, 1, 'opening the page admits nobody: one payer pressed Pay')

  const off = await app.inject({ method: 'POST', url: `/v1/reusable-links/${String(link.id)}/deactivate`, headers: auth(merchant.apiKey), payload: { reason: 'sold out' } })
  t.equal(off.statusCode, 200, off.body)
  t.match(off.json(), { active: false })
  const late = await pay(link.url)
  t.equal(late.statusCode, 410)
  t.equal(late.json().code, 'LINK_REUSABLE_UNAVAILABLE')
  const gone = await app.inject({ method: 'GET', url: path(link.url) })
  t.equal(gone.statusCode, 410)
  t.match(gone.body, /no longer available/)
  const form = await app.inject({ method: 'POST', url: `${path(link.url)}/pay`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
  t.equal(form.statusCode, 410, 'a browser gets a page')
  t.match(form.headers['content-type'], /text\/html/)
  t.equal((await app.inject({ method: 'PATCH', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(merchant.apiKey), payload: { amount: price } })).json().code, 'LINK_REUSABLE_INACTIVE')
  t.equal((await app.inject({ method: 'GET', url: '/r/nonexistent000' })).statusCode, 404)
})

t.test('an admitted payer who does not pay should lose the place when the hold ends: the link canceled at Dojo, the place free again', async (t) => {
  const short = await issuerEnv(t, { REUSABLE_HOLD_S: '1', REUSABLE_SWEEP_MS: '100' })
  await startRecorder(t, short)
  const quick = await buildIssuer(t, short)
  const shop = await createTestMerchant(t, short, sandbox.url)
  const link = (await quick.inject({ method: 'POST', url: '/v1/reusable-links', headers: auth(shop.apiKey), payload: { reference: 'one-seat', amount: price, maxPayments: 1 } })).json()
  const payOn = async (): Promise<Awaited<ReturnType<typeof app.inject>>> => await quick.inject({ method: 'POST', url: `${path(link.url)}/pay`, headers: { accept: 'application/json' } })
  const first = await payOn()
  t.equal(first.statusCode, 201, first.body)
  t.equal((await payOn()).statusCode, 410, 'the one place is held')
  const intentId = new URL(first.json().url).pathname.split('/').at(-1)!
  await until(async () => (await shop.dojo.getPaymentIntent(intentId, { returnCanceled: true })).status === 'Canceled', 15_000, 'the unpaid intent canceled at Dojo')
  await until(async () => (await quick.inject({ method: 'GET', url: `/v1/reusable-links/${String(link.id)}`, headers: auth(shop.apiKey) })).json().payers.released === 1, 15_000, 'the place freed')
  const child = (await quick.inject({ method: 'GET', url: `/v1/payment-links/${String(first.json().linkId)}`, headers: auth(shop.apiKey) })).json()
  t.equal(child.status, 'canceled')
  const next = await payOn()
  t.equal(next.statusCode, 201, 'the next payer gets the freed place')
  t.not(next.json().linkId, first.json().linkId)
})
