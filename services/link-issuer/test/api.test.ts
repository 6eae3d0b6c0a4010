import t from 'tap'
import { createDatabase } from '@paylinks/event-store'
import { revokeApiKey, type MerchantTables } from '@paylinks/merchants'
import { loadConfig } from '@paylinks/service-kit'
import { LinkIssuerConfigSchema } from '../src/config.js'
import type { LinkIssuerTables } from '../src/tables.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, startRecorder, startSandbox, until } from './helpers.js'

// One sandbox, one recorder and one app for the file; each test uses its own merchant.
const sandbox = await startSandbox(t)
const env = await issuerEnv(t)
await startRecorder(t, env)
const app = await buildIssuer(t, env)

let n = 0
const ref = (): string => `order-${++n}-${Date.now().toString(36)}`
const body = (reference: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ reference, amount: { value: 1050, currencyCode: 'GBP' }, description: 'Two <b>blue</b> mugs', customer: { email: 'ann@example.com', name: 'Ann' }, ...extra })

t.test('POST /v1/payment-links should issue a link at Dojo and GET should see it at once', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(reference, { metadata: { cart: 'c1' } }) })
  t.equal(res.statusCode, 201, res.body)
  const link = res.json()
  t.match(link, { reference, status: 'issued', amount: { value: 1050, currencyCode: 'GBP' }, email: { requested: false, sentAt: null }, source: 'api' })
  t.match(link.id, /^lnk_/)
  t.match(link.paymentIntentId, /^pi_sandbox_/)
  t.equal(link.url, `${sandbox.url}/checkout/${link.paymentIntentId}`)
  t.equal(res.headers.location, `/v1/payment-links/${link.id}`)

  const intent = await m.dojo.getPaymentIntent(link.paymentIntentId)
  t.equal(intent.amount.value, 1050)
  t.match(intent.reference, new RegExp(`${reference} ${link.id}$`), 'the Dojo reference embeds the link id')
  t.equal(intent.config?.redirectUrl, `${env.PUBLIC_URL}/links/${link.id}/result`)

  const got = await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}`, headers: auth(m.apiKey) })
  t.equal(got.statusCode, 200)
  t.same(got.json(), link)

  const events = await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}/events`, headers: auth(m.apiKey) })
  t.same(events.json().data.map((e: { type: string }) => e.type), ['payment-link.requested', 'payment-link.issued'])

  const png = await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}/qr`, headers: auth(m.apiKey) })
  t.equal(png.headers['content-type'], 'image/png')
  t.same([...png.rawPayload.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47])
  const svg = await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}/qr?format=svg`, headers: auth(m.apiKey) })
  t.match(svg.headers['content-type'], /image\/svg\+xml/)
  t.match(svg.body, /<svg/)
})

t.test('GET /v1/payment-links should filter by status and reference and page with a cursor', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })
    ids.push(res.json().id)
  }
  await app.inject({ method: 'POST', url: `/v1/payment-links/${ids[0]!}/cancel`, headers: auth(m.apiKey) })
  const list = async (qs: string): Promise<any> => (await app.inject({ method: 'GET', url: `/v1/payment-links?${qs}`, headers: auth(m.apiKey) })).json()
  await until(async () => (await list('status=canceled')).data.length === 1, 10_000, 'read model caught up')
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: any = await list(`limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    t.ok(page.data.length <= 2)
    seen.push(...page.data.map((l: { id: string }) => l.id))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.same(seen.sort(), [...ids].sort(), 'every link once across pages, none of other merchants')
  t.equal((await list('status=issued')).data.length, 4)
  const one = await list(`reference=${(await app.inject({ method: 'GET', url: `/v1/payment-links/${ids[2]!}`, headers: auth(m.apiKey) })).json().reference}`)
  t.same(one.data.map((l: { id: string }) => l.id), [ids[2]])
  t.equal((await list(`createdFrom=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).data.length, 0)
  const bad = await app.inject({ method: 'GET', url: '/v1/payment-links?cursor=nonsense', headers: auth(m.apiKey) })
  t.equal(bad.statusCode, 400)
})

t.test('POST /v1/payment-links/{id}/cancel should cancel the intent at Dojo and record it', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const link = (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })).json()
  const res = await app.inject({ method: 'POST', url: `/v1/payment-links/${link.id}/cancel`, headers: auth(m.apiKey), payload: { reason: 'customer changed mind' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().status, 'canceled')
  t.equal((await m.dojo.getPaymentIntent(link.paymentIntentId, { returnCanceled: true })).status, 'Canceled')
  const again = await app.inject({ method: 'POST', url: `/v1/payment-links/${link.id}/cancel`, headers: auth(m.apiKey) })
  t.equal(again.statusCode, 200, 'canceling twice is the same cancel')
  const events = (await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}/events`, headers: auth(m.apiKey) })).json()
  t.equal(events.data.filter((e: { type: string }) => e.type === 'payment-link.canceled').length, 1)

  const paid = (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })).json()
  t.equal((await sandbox.pay(paid.paymentIntentId)).status, 200)
  const refused = await app.inject({ method: 'POST', url: `/v1/payment-links/${paid.id}/cancel`, headers: auth(m.apiKey) })
  t.equal(refused.statusCode, 409)
  t.equal(refused.json().code, 'LINK_NOT_CANCELABLE')
})

t.test('POST /v1/payment-links/{id}/cancel should accept a JSON content type with no body', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const link = (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })).json()
  const res = await app.inject({ method: 'POST', url: `/v1/payment-links/${link.id}/cancel`, headers: { ...auth(m.apiKey), 'content-type': 'application/json' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().status, 'canceled')
})

t.test('GET /v1/payment-links should include the caller\'s own writes at once', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const list = async (qs = '', headers: Record<string, string> = {}) => await app.inject({ method: 'GET', url: `/v1/payment-links?${qs}`, headers: { ...auth(m.apiKey), ...headers } })
  for (let i = 0; i < 8; i++) {
    const created = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })
    t.equal(created.statusCode, 201, created.body)
    t.match(created.headers['paylinks-position'], /^\d+$/, 'the write says where it is in the log')
    const listed = await list(`reference=${created.json().reference}`)
    t.same(listed.json().data.map((l: { id: string, status: string }) => [l.id, l.status]), [[created.json().id, 'issued']], `create ${i} then list`)
    t.notOk(listed.headers['paylinks-stale'])
    t.ok(Number(listed.headers['paylinks-position']) >= Number(created.headers['paylinks-position']))
    if (i % 2 === 0) {
      const canceled = await app.inject({ method: 'POST', url: `/v1/payment-links/${created.json().id}/cancel`, headers: auth(m.apiKey) })
      t.equal(canceled.statusCode, 200, canceled.body)
      t.same((await list(`reference=${created.json().reference}`)).json().data.map((l: { status: string }) => l.status), ['canceled'], `cancel ${i} then list`)
    }
  }
})

t.test('GET /v1/payment-links on another replica should include a write whose position the client sends', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  // A second instance on the same database: its read model stands by, so it waits on the checkpoint.
  const other = await buildIssuer(t, env)
  for (let i = 0; i < 4; i++) {
    const created = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })
    const listed = await other.inject({ method: 'GET', url: `/v1/payment-links?reference=${created.json().reference}`, headers: { ...auth(m.apiKey), 'paylinks-position': created.headers['paylinks-position'] as string } })
    t.equal(listed.statusCode, 200, listed.body)
    t.same(listed.json().data.map((l: { id: string }) => l.id), [created.json().id], `write ${i} seen on the other replica`)
  }
  const bad = await other.inject({ method: 'GET', url: '/v1/payment-links', headers: { ...auth(m.apiKey), 'paylinks-position': 'soon' } })
  t.equal(bad.statusCode, 400)
})

t.test('dates JavaScript cannot read should be a 400 problem, not a 500', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  for (const qs of ['createdFrom=not-a-date', 'createdTo=2026-02-30T10:00:00Z', `createdFrom=${encodeURIComponent('2026-12-31T23:59:60Z')}`]) {
    const res = await app.inject({ method: 'GET', url: `/v1/payment-links?${qs}`, headers: auth(m.apiKey) })
    t.equal(res.statusCode, 400, `${qs}: ${res.body}`)
    t.match(res.headers['content-type'], /application\/problem\+json/)
  }
  const expiry = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref(), { expiresAt: '2027-02-29T10:00:00Z' }) })
  t.equal(expiry.statusCode, 400, expiry.body)
  t.match(expiry.json().detail, /expiresAt/)
})

t.test('400 wrong keys from one address should meet a 429 before any key look-up', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const from = (remoteAddress: string, key: string) => app.inject({ method: 'GET', url: '/v1/payment-links', remoteAddress, headers: auth(key) })
  const statuses: number[] = []
  for (let i = 0; i < 400; i++) statuses.push((await from('10.0.0.7', `plk_${String(i).padStart(16, 'x')}_${'b'.repeat(43)}`)).statusCode)
  const firstLimited = statuses.indexOf(429)
  t.equal(firstLimited, 20, 'AUTH_FAILURES_MAX (20) failures are answered 401, then 429')
  t.ok(statuses.slice(firstLimited).every((s) => s === 429), 'and every later attempt is refused unheard')
  const limited = await from('10.0.0.7', m.apiKey)
  t.equal(limited.statusCode, 429, 'even a good key is not looked up from that address')
  t.match(limited.json(), { code: 'LINK_AUTH_LIMITED' })
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.equal((await from('10.0.0.8', m.apiKey)).statusCode, 200, 'another address is not affected')
  t.equal((await from('10.0.0.7', m.apiKey)).statusCode, 200, 'a key already authenticated passes (no look-up)')
})

t.test('Idempotency-Key should replay the first answer and refuse a different body', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const headers = { ...auth(m.apiKey), 'idempotency-key': `k-${reference}` }
  const first = await app.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body(reference) })
  t.equal(first.statusCode, 201)
  const replay = await app.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: { amount: { currencyCode: 'GBP', value: 1050 }, ...body(reference) } })
  t.equal(replay.statusCode, 201)
  t.same(replay.json(), first.json())
  const different = await app.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body(reference, { amount: { value: 999, currencyCode: 'GBP' } }) })
  t.equal(different.statusCode, 422)
  t.equal(different.json().code, 'LINK_IDEMPOTENCY_MISMATCH')
  t.match(different.headers['content-type'], /application\/problem\+json/)
})

t.test('concurrent duplicate requests should make one link and one intent', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const headers = { ...auth(m.apiKey), 'idempotency-key': `dup-${reference}` }
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await app.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body(reference) })))
  t.same(answers.map((a) => a.statusCode), Array(8).fill(201), answers.map((a) => a.body).join('\n'))
  t.equal(new Set(answers.map((a) => a.json().paymentIntentId)).size, 1)
  const id = answers[0]!.json().id
  const intents = await m.dojo.findPaymentIntentsByReference(answers[0]!.json().paymentIntentId === undefined ? '' : `${reference} ${id}`, { createdFrom: new Date(Date.now() - 60_000) })
  t.equal(intents.length, 1, 'exactly one intent at Dojo')

  // Without a key, racing requests for one reference: one link, the rest are told it is taken.
  const r2 = ref()
  const racing = await Promise.all(Array.from({ length: 6 }, async () => await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(r2) })))
  t.same(racing.map((a) => a.statusCode).sort(), [201, 409, 409, 409, 409, 409])
  const winner = racing.find((a) => a.statusCode === 201)!.json()
  for (const loser of racing.filter((a) => a.statusCode === 409)) t.match(loser.json(), { code: 'LINK_REFERENCE_TAKEN', linkId: winner.id })
})

t.test('a reference already used should be a 409 naming the existing link', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const first = (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(reference) })).json()
  const again = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(reference, { amount: { value: 5, currencyCode: 'EUR' } }) })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'LINK_REFERENCE_TAKEN', linkId: first.id, reference })
  t.match(again.json().detail, first.id)
  // Another merchant may use the same reference.
  const other = await createTestMerchant(t, env, sandbox.url)
  t.equal((await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(other.apiKey), payload: body(reference) })).statusCode, 201)
})

t.test('API keys should be scoped to their merchant', async (t) => {
  const a = await createTestMerchant(t, env, sandbox.url)
  const b = await createTestMerchant(t, env, sandbox.url)
  const link = (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(a.apiKey), payload: body(ref()) })).json()
  for (const [method, url] of [['GET', ''], ['GET', '/events'], ['GET', '/qr'], ['POST', '/cancel']] as const) {
    const res = await app.inject({ method, url: `/v1/payment-links/${link.id}${url}`, headers: auth(b.apiKey) })
    t.equal(res.statusCode, 404, `${method} ${url} of another merchant's link`)
    t.equal(res.json().code, 'LINK_NOT_FOUND')
  }
  const list = await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(b.apiKey) })
  t.notOk(list.json().data.some((l: { id: string }) => l.id === link.id))
  t.equal((await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id}`, headers: auth(a.apiKey) })).statusCode, 200)
})

t.test('requests without a valid API key should be refused with 401', async (t) => {
  for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer plk_nope' }, auth(`plk_${'a'.repeat(16)}_${'b'.repeat(43)}`)]) {
    const res = await app.inject({ method: 'GET', url: '/v1/payment-links', headers })
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'LINK_UNAUTHORIZED')
    t.match(res.headers['www-authenticate'], /Bearer/)
  }
})

t.test('a revoked API key should stop working within API_KEY_CACHE_MS (2 s by default)', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const list = async (): Promise<number> => (await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(m.apiKey) })).statusCode
  t.equal(await list(), 200)
  t.equal(await list(), 200, 'the authentication is reused')
  const db = createDatabase<MerchantTables>({ connectionString: env.DATABASE_URL!, max: 1 })
  let revokedAt: number
  try {
    revokedAt = Date.now()
    t.ok(await revokeApiKey(db, m.keyId))
  } finally {
    await db.destroy()
  }
  const refusedAt = await until(async () => (await list()) === 401 ? Date.now() : undefined, 10_000, '401 after revocation')
  t.ok(refusedAt - revokedAt <= 2000 + 500, `refused ${refusedAt - revokedAt} ms after the revocation`)
  t.equal(await list(), 401, 'and stays refused')
  t.throws(() => loadConfig(LinkIssuerConfigSchema, { ...env, API_KEY_CACHE_MS: '5001' }), 'the bound cannot be configured above 5 s')
})

t.test('GET right after POST should see the issued link, for many requests at once', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const pairs = await Promise.all(Array.from({ length: 16 }, async () => {
    const posted = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })
    const got = await app.inject({ method: 'GET', url: posted.headers.location as string, headers: auth(m.apiKey) })
    return { posted, got }
  }))
  for (const { posted, got } of pairs) {
    t.equal(posted.statusCode, 201, posted.body)
    t.equal(got.statusCode, 200, got.body)
    t.same(got.json(), posted.json())
  }
})

t.test('the leases of issued links should be deleted shortly after, in batches', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const ids = await Promise.all(Array.from({ length: 5 }, async () => (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })).json().id as string))
  const db = createDatabase<LinkIssuerTables>({ connectionString: env.DATABASE_URL!, max: 1 })
  t.teardown(async () => { await db.destroy() })
  await until(async () => (await db.selectFrom('li_issue_leases').select('link_id').where('link_id', 'in', ids).execute()).length === 0, 5000, 'leases deleted')
  t.pass('no lease left for the issued links')
})

t.test('bad input of every kind should get a 4xx problem that says what to fix and change nothing', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const post = async (payload: string | object, headers: Record<string, string> = {}) =>
    await app.inject({ method: 'POST', url: '/v1/payment-links', headers: { ...auth(m.apiKey), 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
  const good = body('x')
  const cases: Array<[string, string | object, number, RegExp, Record<string, string>?]> = [
    ['missing reference', { amount: { value: 1, currencyCode: 'GBP' } }, 400, /reference/],
    ['missing amount', { reference: 'r' }, 400, /amount/],
    ['extra field', { ...good, colour: 'blue' }, 400, /colour.*not allowed/],
    ['extra field in amount', { ...good, amount: { value: 1, currencyCode: 'GBP', tax: 1 } }, 400, /tax/],
    ['fractional amount', { ...good, amount: { value: 10.5, currencyCode: 'GBP' } }, 400, /amount\/value.*integer/],
    ['zero amount', { ...good, amount: { value: 0, currencyCode: 'GBP' } }, 400, /amount\/value/],
    ['negative amount', { ...good, amount: { value: -5, currencyCode: 'GBP' } }, 400, /amount\/value/],
    ['string amount', { ...good, amount: { value: '10', currencyCode: 'GBP' } }, 400, /amount\/value/],
    ['unknown currency', { ...good, amount: { value: 1, currencyCode: 'XXX' } }, 400, /currencyCode/],
    ['reference over 60', { ...good, reference: 'r'.repeat(61) }, 400, /reference.*60/],
    ['empty reference', { ...good, reference: '' }, 400, /reference/],
    ['bad e-mail', { ...good, customer: { email: 'not-an-email' } }, 400, /customer\/email/],
    ['bad redirect', { ...good, redirectUrl: 'javascript:alert(1)' }, 400, /redirectUrl/],
    ['past expiry', { ...good, expiresAt: '2001-01-01T00:00:00Z' }, 400, /expiresAt/],
    ['email without address', { ...good, customer: { name: 'A' }, sendEmail: true }, 400, /customer\/email/],
    ['email without SMTP', { ...good, sendEmail: true }, 422, /SMTP/],
    ['malformed JSON', '{"reference": "x", ', 400, /JSON/],
    ['array body', '[]', 400, /body/],
    ['wrong content type', 'reference=x', 415, /content-type|Content-Type|media type/i, { 'content-type': 'application/x-www-form-urlencoded' }],
    ['oversized body', { ...good, description: 'x'.repeat(70 * 1024) }, 413, /large|limit/i]
  ]
  for (const [name, payload, status, detail, headers] of cases) {
    const res = await post(payload, headers)
    t.equal(res.statusCode, status, `${name}: ${res.body}`)
    t.match(res.headers['content-type'], /application\/problem\+json/, name)
    t.match(res.json().detail, detail, name)
  }
  const unknown = await app.inject({ method: 'GET', url: '/v1/payment-links/lnk_doesnotexist00', headers: auth(m.apiKey) })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'LINK_NOT_FOUND')
  const malformedId = await app.inject({ method: 'GET', url: '/v1/payment-links/123', headers: auth(m.apiKey) })
  t.equal(malformedId.statusCode, 400)
  const list = await app.inject({ method: 'GET', url: '/v1/payment-links?status=bogus', headers: auth(m.apiKey) })
  t.equal(list.statusCode, 400)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const all = await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(m.apiKey) })
  t.same(all.json().data, [], 'nothing was created')
  t.same((await m.dojo.searchPaymentIntents({})).data, [], 'nothing reached Dojo')
})

t.test('the result page should confirm the status with Dojo and offer the merchant redirect', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url, sandbox.url, { defaultRedirectUrl: 'https://shop.example/thanks?a=1&b=2' })
  const link = (await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })).json()
  const pending = await app.inject({ method: 'GET', url: `/links/${link.id}/result?status=Captured&paymentStatus=Successful` })
  t.equal(pending.statusCode, 200)
  t.match(pending.headers['content-type'], /text\/html/)
  t.match(pending.body, /data-status="pending"/, 'query parameters are not trusted')
  t.match(pending.body, /Test &amp; Sons &lt;Ltd&gt;/, 'escaped')
  t.match(pending.body, /href="https:\/\/shop.example\/thanks\?a=1&amp;b=2"/)
  await sandbox.pay(link.paymentIntentId)
  const paid = await app.inject({ method: 'GET', url: `/links/${link.id}/result` })
  t.match(paid.body, /data-status="paid"/)
  t.match(paid.body, /Payment received/)
  await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body(ref()) })
  const missing = await app.inject({ method: 'GET', url: '/links/lnk_unknownunknown/result' })
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /not found/)
})

t.test('the OpenAPI document should describe the partner API', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.ok(doc.paths['/v1/payment-links'].post)
  t.ok(doc.paths['/v1/payment-links/{id}/cancel'].post)
  t.ok(doc.paths['/v1/payment-links/{id}/qr'].get)
})
