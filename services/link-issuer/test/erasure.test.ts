import t from 'tap'
import { sql } from 'kysely'
import { customerStream } from '@paylinks/contracts'
import { createDatabase } from '@paylinks/event-store'
import { auth, buildIssuer, createTestMerchant, ENCRYPTION_KEY, issuerEnv, openStore, whenRecorded, runAdmin, startFaultyProxy, startRecorder, startSandbox, startSmtp } from './helpers.js'

const sandbox = await startSandbox(t)
const mailbox = await startSmtp(t)
const env = await issuerEnv(t, { DOJO_RETRIES: '0' })
await startRecorder(t, env)
const app = await buildIssuer(t, { ...env, SMTP_URL: mailbox.url })
const store = await openStore(t, env)
const db = createDatabase({ connectionString: env.DATABASE_URL!, max: 1 })
t.teardown(async () => { await db.destroy() })

const ann = { email: 'ann.erasure@example.com', phone: '+44 7700 900461', name: 'Annabel Erasure' }
const PLAIN = [ann.email, ann.phone, ann.name, '1 Erasure Street']

t.test('erasing a customer should make every link show it erased while its payment facts stay, without rewriting the log', async (t) => {
  // Dojo refuses the third link's creates at first: it stays requested until after the erasure.
  const proxy = await startFaultyProxy(t, sandbox.url, ['pass', 'pass', 'fail500', 'fail500', 'fail500'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const other = await createTestMerchant(t, env, sandbox.url)
  const body = (reference: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    reference, amount: { value: 2599, currencyCode: 'GBP' }, customer: ann, metadata: { cart: 'c-42', address: '1 Erasure Street' }, ...extra
  })
  const first = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('erase-1') })
  t.equal(first.statusCode, 201, first.body)
  const second = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('erase-2', { customer: { email: 'ANN.erasure@example.com' } }) })
  t.equal(second.statusCode, 201, second.body)
  const pending = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: { ...auth(m.apiKey), 'idempotency-key': 'erase-3' }, payload: body('erase-3', { sendEmail: true }) })
  t.equal(pending.statusCode, 503, pending.body)
  const [a, b] = [first.json(), second.json()]
  t.match(a.customer, { id: /^cus_/, ...ann })
  t.equal(b.customer.id, a.customer.id, 'one customer for one e-mail')
  t.same(a.metadata, { cart: 'c-42', address: '1 Erasure Street' })

  await whenRecorded(store, second)
  const raw = await sql<{ position: string, data: unknown }>`SELECT position, data FROM es_events WHERE stream_id LIKE 'payment-link.%' ORDER BY position`.execute(db)
  const log = JSON.stringify(raw.rows)
  t.ok(raw.rows.length >= 5)
  for (const plain of PLAIN) t.notOk(log.toLowerCase().includes(plain.toLowerCase()), `the log holds no "${plain}"`)
  t.ok(log.includes('c-42'), 'metadata that is not personal stays in clear')

  const foreign = await app.inject({ method: 'POST', url: '/v1/customers/erase', headers: auth(other.apiKey), payload: { email: ann.email } })
  t.equal(foreign.statusCode, 404, 'another merchant\'s key erases nothing')
  t.equal(foreign.json().code, 'LINK_CUSTOMER_NOT_FOUND')
  t.match((await app.inject({ method: 'GET', url: `/v1/payment-links/${a.id as string}`, headers: auth(m.apiKey) })).json().customer, ann)

  const erased = await app.inject({ method: 'POST', url: '/v1/customers/erase', headers: auth(m.apiKey), payload: { email: ann.email } })
  t.equal(erased.statusCode, 200, erased.body)
  t.match(erased.json(), { customerIds: [a.customer.id], links: 3 })

  for (const link of [a, b]) {
    const after = (await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) })).json()
    t.same(after.customer, { id: a.customer.id, erased: true })
    t.same(after.metadata, { cart: 'c-42' }, 'the personal metadata fields are gone')
    t.match(after, { status: link.status, amount: link.amount, paymentIntentId: link.paymentIntentId, createdAt: link.createdAt })
    const timeline = (await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}/events`, headers: auth(m.apiKey) })).body
    for (const plain of PLAIN) t.notOk(timeline.includes(plain), `the timeline shows no "${plain}"`)
  }

  // The link Dojo refused is issued now, but its customer is erased: no e-mail, no contact at Dojo.
  const resumed = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: { ...auth(m.apiKey), 'idempotency-key': 'erase-3' }, payload: body('erase-3', { sendEmail: true }) })
  t.equal(resumed.statusCode, 201, resumed.body)
  t.match(resumed.json(), { status: 'issued', email: { requested: true, sentAt: null }, customer: { erased: true } })
  t.equal(mailbox.messages.filter((x) => x.to.includes(ann.email)).length, 0, 'no e-mail to an erased customer')
  const intent = await m.dojo.getPaymentIntent(resumed.json().paymentIntentId)
  t.notOk(JSON.stringify(intent).includes(ann.email), 'Dojo got no contact details of an erased customer')
  t.notOk(JSON.stringify(intent).includes('Erasure Street'))

  // The erasure is a fact of its own; nothing recorded before it changed.
  let recorded
  for (let i = 0; i < 200; i++) {
    recorded = await store.readStream(customerStream(a.customer.id))
    if (recorded.length > 0) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.match(recorded, [{ type: 'customer.erased', data: { customerId: a.customer.id, merchantId: m.id, links: 3 } }])
  t.notOk(JSON.stringify(recorded).includes(ann.email))
  const rawAfter = await sql<{ position: string, data: unknown }>`SELECT position, data FROM es_events WHERE position = ANY(${raw.rows.map((r) => r.position)}::bigint[]) ORDER BY position`.execute(db)
  t.same(rawAfter.rows, raw.rows, 'the events recorded before the erasure are as they were')

  const again = await app.inject({ method: 'POST', url: '/v1/customers/erase', headers: auth(m.apiKey), payload: { customerId: a.customer.id } })
  t.equal(again.statusCode, 200, 'erasing again by id is idempotent')
  const fresh = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('erase-4') })
  t.not(fresh.json().customer.id, a.customer.id, 'a new link of the same e-mail after the erasure starts a new customer')
  t.match(fresh.json().customer, ann)
})

const admin = async (...args: string[]): Promise<{ code: number, out: string, err: string }> => await runAdmin({ DATABASE_URL: env.DATABASE_URL!, SECRETS_ENCRYPTION_KEYS: ENCRYPTION_KEY, NATS_URL: env.NATS_URL!, EVENTS_SUBJECT_PREFIX: env.EVENTS_SUBJECT_PREFIX!, EVENTS_STREAM: env.EVENTS_STREAM! }, ...args)

t.test('pnpm admin customer erase should erase a merchant\'s customer by e-mail and refuse bad usage', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const created = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: { reference: 'admin-erase', amount: { value: 500, currencyCode: 'EUR' }, customer: { phone: '+44 7700 900999', name: 'Bo Admin' } } })
  t.equal(created.statusCode, 201, created.body)
  const link = created.json()
  t.equal((await admin('customer', 'erase', '--merchant', m.id, '--phone', '+44 7700 900999', '--email', 'x@example.com')).code, 2, 'one subject at a time')
  t.equal((await admin('customer', 'erase', '--merchant', m.id, '--email', 'nobody@example.com')).code, 1, 'no such customer')
  const erased = await admin('customer', 'erase', '--merchant', m.id, '--phone', '+447700900999', '--json')
  t.equal(erased.code, 0, erased.err)
  t.match(JSON.parse(erased.out), { customerIds: [link.customer.id], links: 1 })
  // The CLI erased in the database; this instance's key cache forgets within CUSTOMER_KEY_CACHE_MS.
  let after
  for (let i = 0; i < 100; i++) {
    after = (await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) })).json()
    if (after.customer.erased === true) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.same(after.customer, { id: link.customer.id, erased: true })
  t.match(after, { status: 'issued', amount: { value: 500, currencyCode: 'EUR' } })
})
