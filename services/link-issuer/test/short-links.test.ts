// A link's short URL as its customer meets it: an issued link's open is recorded
// (`payment-link.opened`: at once for the first, then counts at most once per interval, the
// sweep publishing a count left waiting) and the customer is sent on to Dojo's checkout; a link
// that cannot be paid says why instead. Real link-issuer, sandbox, recorder, Postgres and NATS.
import t from 'tap'
import { shortLinkOutcome } from '../src/routes/short-links.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, startRecorder, startSandbox, until } from './helpers.js'

const sandbox = await startSandbox(t)
const env = await issuerEnv(t, { PUBLIC_URL: 'https://links.shop.example/', OPEN_EVENT_INTERVAL_MS: '500', RECOVERY_INTERVAL_MS: '200' })
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const merchant = await createTestMerchant(t, env, sandbox.url)

async function create (reference: string, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(merchant.apiKey), payload: { reference, amount: { value: 1999, currencyCode: 'GBP' }, ...extra } })
  t.equal(res.statusCode, 201, res.body)
  return res.json()
}
const get = async (id: string): Promise<any> => (await app.inject({ method: 'GET', url: `/v1/payment-links/${id}`, headers: auth(merchant.apiKey) })).json()
const events = async (id: string): Promise<Array<{ type: string, data: any }>> =>
  (await app.inject({ method: 'GET', url: `/v1/payment-links/${id}/events`, headers: auth(merchant.apiKey) })).json().data
const open = async (shortUrl: string): Promise<Awaited<ReturnType<typeof app.inject>>> => await app.inject({ method: 'GET', url: new URL(shortUrl).pathname })

t.test('opening an issued link\'s short URL should record the open and send the customer to Dojo\'s checkout', async (t) => {
  const link = await create('short-1')
  t.match(link.shortUrl, /^https:\/\/links\.shop\.example\/l\/[A-Za-z0-9_-]{22}$/, 'under PUBLIC_URL, the link id without its prefix')
  t.same(link.opened, { firstAt: null, count: 0 })

  const first = await open(link.shortUrl)
  t.equal(first.statusCode, 302)
  t.equal(first.headers.location, link.url, 'on to Dojo\'s checkout')
  t.equal(first.headers['cache-control'], 'no-store')
  // The first open is published before the redirect: the link shows it once recorded.
  await until(async () => (await get(link.id)).opened.count === 1, { what: 'the first open recorded', timeoutMs: 10_000 })
  const opened = await get(link.id)
  t.match(opened.opened.firstAt, /^\d{4}-\d\d-\d\dT/)
  t.same((await events(link.id)).filter((e) => e.type === 'payment-link.opened').map((e) => e.data.opens), [1])

  // A burst of opens: each is counted; within the interval no event, then one carries the count.
  for (let i = 0; i < 4; i++) t.equal((await open(link.shortUrl)).statusCode, 302)
  t.equal((await get(link.id)).opened.count, 1, 'opens within the interval wait for it')
  await until(async () => (await get(link.id)).opened.count === 5, { what: 'the sweep publishes the waiting count', timeoutMs: 20_000 })
  const counts = (await events(link.id)).filter((e) => e.type === 'payment-link.opened')
  t.ok(counts.length <= 3, `a few events carry five opens, not five events (${counts.length})`)
  t.equal(counts.at(-1)!.data.opens, 5)
  t.equal(counts.at(-1)!.data.firstOpenedAt, opened.opened.firstAt, 'the first open stays the first')
})

t.test('a link that cannot be paid should say why on its short URL, and record no open', async (t) => {
  const canceled = await create('short-cancel')
  const cancel = await app.inject({ method: 'POST', url: `/v1/payment-links/${String(canceled.id)}/cancel`, headers: auth(merchant.apiKey), payload: {} })
  t.equal(cancel.statusCode, 200, cancel.body)
  const page = await open(canceled.shortUrl)
  t.equal(page.statusCode, 410)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /This payment link was canceled/)
  t.match(page.body, /£19\.99/)
  t.notMatch(page.body, /checkout/, 'no way on to a dead checkout')
  t.equal((await get(canceled.id)).opened.count, 0)

  const unknown = await app.inject({ method: 'GET', url: '/l/AAAAAAAAAAAAAAAAAAAAAA' })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.body, /Payment link not found/)
  t.equal((await app.inject({ method: 'GET', url: '/l/..%2F..%2Fetc' })).statusCode, 404, 'a code that is no link id is not looked up')
})

t.test('the short URL should send on only an issued link within its expiry, and name every other end', async (t) => {
  const url = 'https://pay.example/checkout/pi_x'
  const later = new Date(Date.now() + 60_000).toISOString()
  const past = new Date(Date.now() - 1000).toISOString()
  t.equal(shortLinkOutcome({ status: 'issued', expiresAt: later, url }), 'redirect')
  t.equal(shortLinkOutcome({ status: 'issued', expiresAt: past, url }), 'expired', 'past its expiry before Dojo says so')
  t.equal(shortLinkOutcome({ status: 'requested', expiresAt: later }), 'wait')
  for (const status of ['authorized', 'paid', 'captured', 'partially_refunded', 'refunded'] as const) t.equal(shortLinkOutcome({ status, expiresAt: past, url }), 'paid', status)
  for (const status of ['expired', 'canceled', 'failed', 'released'] as const) t.equal(shortLinkOutcome({ status, expiresAt: later, url }), status, status)
})
