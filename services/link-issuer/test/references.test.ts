import { createHash } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { orderStream, orderSubject, paymentLinkStream } from '@paylinks/contracts'
import { createDatabase } from '@paylinks/event-store'
import { connectMessaging } from '@paylinks/messaging'
import { loadConfig } from '@paylinks/service-kit'
import { onTeardown, roleUrl, TEST_DATABASE_URL } from '@paylinks/test-kit'
import { LinkIssuerConfigSchema } from '../src/config.js'
import { linkIdFor } from '../src/link.js'
import { orderKey } from '../src/orders.js'
import type { LinkIssuerTables } from '../src/tables.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, ordersSettled, startRecorder, startSandbox, until, type TestMerchant } from './helpers.js'

// JetStream keeps events here for about 3.6 s: long enough to issue a link, short enough to wait
// for it to forget the link. What must outlive the window is in Postgres.
const sandbox = await startSandbox(t)
const env = await issuerEnv(t, { EVENTS_MAX_AGE_HOURS: '0.001', EVENTS_DUPLICATE_WINDOW_MS: '500', RECOVERY_INTERVAL_MS: '100' })
await startRecorder(t, env)
const app = await buildIssuer(t, env)
const store = await openStore(t, env)
const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'references-test' })
onTeardown(t, () => messaging.close())
const db = createDatabase<LinkIssuerTables>({ connectionString: env.DATABASE_URL!, max: 2 })
onTeardown(t, () => db.destroy())
// The tables' owner, to stage what the service's role may not do (drop a claim, as before 0013).
const owner = createDatabase<LinkIssuerTables>({ connectionString: roleUrl(env.DATABASE_URL!, decodeURIComponent(new URL(TEST_DATABASE_URL).username)), max: 1 })
onTeardown(t, () => owner.destroy())

let n = 0
const ref = (): string => `ref-${++n}-${Date.now().toString(36)}`
const body = (reference: string): Record<string, unknown> => ({ reference, amount: { value: 990, currencyCode: 'GBP' } })
const post = async (m: TestMerchant, payload: Record<string, unknown>, key?: string): Promise<any> =>
  await app.inject({ method: 'POST', url: '/v1/payment-links', headers: { ...auth(m.apiKey), ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload })

/** Until JetStream has dropped every message of the link and the store holds its `count` events. */
async function forgotten (linkId: string, count: number): Promise<void> {
  await until(async () => (await store.readStream(paymentLinkStream(linkId))).length >= count, 20_000, `link ${linkId} recorded`)
  const subject = `${env.EVENTS_SUBJECT_PREFIX!}.${paymentLinkStream(linkId)}`
  await until(async () => {
    const info = await messaging.jsm.streams.info(env.EVENTS_STREAM!, { subjects_filter: subject })
    return (info.state.subjects?.[subject] ?? 0) === 0
  }, 30_000, `JetStream forgot ${linkId}`)
}

const intents = async (m: TestMerchant): Promise<number> => (await m.dojo.searchPaymentIntents({})).data.length
const types = async (linkId: string): Promise<string[]> => (await store.readStream(paymentLinkStream(linkId))).map((e) => e.type)

t.test('a reference requested again after the stream forgot it should return the same link and create no second intent', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const first = await post(m, body(reference), 'key-1')
  t.equal(first.statusCode, 201, first.body)
  const link = first.json()
  await forgotten(link.id, 2)

  const again = await post(m, body(reference), 'key-1')
  t.equal(again.statusCode, 201, again.body)
  t.match(again.json(), { id: link.id, status: 'issued', paymentIntentId: link.paymentIntentId })

  const other = await post(m, body(reference), 'key-2')
  t.equal(other.statusCode, 409, other.body)
  t.match(other.json(), { code: 'LINK_REFERENCE_TAKEN', linkId: link.id })
  const keyless = await post(m, body(reference))
  t.equal(keyless.statusCode, 409, keyless.body)

  t.equal(await intents(m), 1, 'one intent at Dojo')
  t.same(await types(link.id), ['payment-link.requested', 'payment-link.issued'], 'no second requested event')
})

t.test('a retry after its Idempotency-Key was pruned should still get the same link', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const first = await post(m, body(reference), 'pruned-key')
  t.equal(first.statusCode, 201, first.body)
  await forgotten(first.json().id, 2)
  await db.deleteFrom('li_idempotency_keys').where('merchant_id', '=', m.id).execute()

  const again = await post(m, body(reference), 'pruned-key')
  t.equal(again.statusCode, 201, again.body)
  t.equal(again.json().id, first.json().id)
  t.equal(await intents(m), 1, 'one intent at Dojo')
})

t.test('a link without a reference claim (issued before claims existed) should still be found after the stream forgot it', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const first = await post(m, body(reference), 'legacy-key')
  t.equal(first.statusCode, 201, first.body)
  const linkId = first.json().id
  await owner.deleteFrom('li_references').where('merchant_id', '=', m.id).execute()
  await forgotten(linkId, 2)

  const other = await post(m, body(reference), 'another-key')
  t.equal(other.statusCode, 409, other.body)
  t.match(other.json(), { code: 'LINK_REFERENCE_TAKEN', linkId })
  const again = await post(m, body(reference), 'legacy-key')
  t.equal(again.statusCode, 201, again.body)
  t.equal(again.json().id, linkId)
  t.equal(await intents(m), 1, 'one intent at Dojo')
  t.same(await types(linkId), ['payment-link.requested', 'payment-link.issued'])
})

t.test('requests racing for one reference in one turn should make one link and one intent', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const reference = ref()
  const same = await Promise.all(Array.from({ length: 6 }, async () => await post(m, body(reference), 'race-key')))
  t.same(same.map((r) => r.statusCode), [201, 201, 201, 201, 201, 201], same.map((r) => r.body).join('\n'))
  t.equal(new Set(same.map((r) => r.json().id)).size, 1, 'one link')
  const other = ref()
  const rivals = await Promise.all(Array.from({ length: 6 }, async (_, i) => await post(m, body(other), `rival-${i}`)))
  t.same(rivals.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409, 409], rivals.map((r) => r.body).join('\n'))
  const winner = rivals.find((r) => r.statusCode === 201)!.json().id
  t.ok(rivals.filter((r) => r.statusCode === 409).every((r) => r.json().linkId === winner), 'each 409 names the link')
  t.equal(await intents(m), 2, 'one intent per reference')
})

t.test('a reference claimed by a request that never got published should go to its retry, or after a while to another request', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const claim = (reference: string, requestedBy: string, minutesAgo: number): Record<string, unknown> =>
    ({ merchant_id: m.id, reference, link_id: linkIdFor(m.id, reference), requested_by: requestedBy, order_id: null, created_at: sql`now() - ${`${minutesAgo} minutes`}::interval` })
  const [recent, stale, own] = [ref(), ref(), ref()]
  // The causation id the API derives from an Idempotency-Key (routes/links.ts).
  const keyed = `idem:${createHash('sha256').update(`${m.id}\u0000own-key`).digest('base64url').slice(0, 32)}`
  await db.insertInto('li_references').values([claim(recent, 'req:crashed-a', 0), claim(stale, 'req:crashed-b', 10), claim(own, keyed, 0)] as any).execute()

  const resumed = await post(m, body(own), 'own-key')
  t.equal(resumed.statusCode, 201, resumed.body)
  t.match(resumed.json(), { id: linkIdFor(m.id, own), status: 'issued' }, 'the retry of the claimer requests its link')

  const refused = await post(m, body(recent))
  t.equal(refused.statusCode, 409, refused.body)
  t.match(refused.json(), { code: 'LINK_REFERENCE_TAKEN', linkId: linkIdFor(m.id, recent) })
  const taken = await post(m, body(stale), 'fresh-key')
  t.equal(taken.statusCode, 201, taken.body)
  t.match(taken.json(), { id: linkIdFor(m.id, stale), status: 'issued' })
  const retried = await post(m, body(stale), 'fresh-key')
  t.equal(retried.json().id, taken.json().id, 'the new holder retries into its link')
  t.equal(await intents(m), 2)
})

const prefix = env.ORDERS_SUBJECT_PREFIX!
async function publishOrder (merchantId: string, order: Record<string, unknown>, msgId: string): Promise<void> {
  await messaging.js.publish(orderSubject(prefix, merchantId), JSON.stringify(order), { msgID: msgId })
}
const settled = async (): Promise<void> => { await ordersSettled(messaging, store, env) }

t.test('an order published again after the stream forgot it should make no second intent and no second issued', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const orderId = `ord-${ref()}`
  const order = { orderId, merchantId: m.id, amount: { value: 1200, currencyCode: 'GBP' } }
  await publishOrder(m.id, order, `${orderId}-1`)
  await settled()
  const linkId = linkIdFor(m.id, orderId)
  await forgotten(linkId, 2)

  await publishOrder(m.id, order, `${orderId}-2`)
  await settled()
  t.same(await types(linkId), ['payment-link.requested', 'payment-link.issued'])
  const issued = (await store.readAll(0, 10_000)).filter((e) => e.type === 'payment-link.issued' && (e.data as { linkId: string }).linkId === linkId)
  t.equal(issued.length, 1, 'one issued event, so order systems hear of the link once')
  t.same(await store.readStream(orderStream(orderKey(m.id, orderId))), [], 'the same order is not rejected')
  t.equal(await intents(m), 1, 'one intent at Dojo')

  // The order id is taken for good: under another reference it is rejected, naming its link.
  const reference = ref()
  await publishOrder(m.id, { ...order, reference }, `${orderId}-3`)
  await settled()
  const [rejected] = await until(async () => { const e = await store.readStream(orderStream(orderKey(m.id, orderId))); return e.length > 0 ? e : undefined }, 10_000, 'rejection')
  t.equal(rejected!.type, 'order.rejected')
  t.match(rejected!.data, { orderId, reason: new RegExp(linkId) })
  t.same(await types(linkIdFor(m.id, reference)), [], 'no link for the other reference')
  t.equal(await intents(m), 1, 'still one intent at Dojo')
})

const idemKey = (i: number): string => `prune-${i}-${Date.now().toString(36)}`

t.test('the idempotency-key sweep should delete keys older than the TTL and keep newer ones', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const row = (key: string, hoursAgo: number): Record<string, unknown> =>
    ({ merchant_id: m.id, key, request_hash: 'h', link_id: linkIdFor(m.id, key), created_at: sql`now() - ${`${hoursAgo} hours`}::interval` })
  const old = [0, 1, 2].map(idemKey)
  const young = [3, 4].map(idemKey)
  await db.insertInto('li_idempotency_keys').values([...old.map((k) => row(k, 25)), ...young.map((k) => row(k, 23))] as any).execute()
  // The app's periodic sweep (RECOVERY_INTERVAL_MS) prunes with the default TTL of 24 hours.
  const left = await until(async () => {
    const keys = (await db.selectFrom('li_idempotency_keys').select('key').where('merchant_id', '=', m.id).execute()).map((r) => r.key)
    return keys.some((k) => old.includes(k)) ? undefined : keys
  }, 10_000, 'old keys pruned')
  t.same(left.sort(), young.sort())
})

t.test('IDEMPOTENCY_KEY_TTL_HOURS should default to 24 and refuse less', async (t) => {
  t.equal(loadConfig(LinkIssuerConfigSchema, { ...env }).IDEMPOTENCY_KEY_TTL_HOURS, 24)
  t.throws(() => loadConfig(LinkIssuerConfigSchema, { ...env, IDEMPOTENCY_KEY_TTL_HOURS: '23' }), /IDEMPOTENCY_KEY_TTL_HOURS/)
})

t.test('a link the stream forgot should still take decisions: a cancel after the window lands once', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const created = await post(m, body(ref()), 'cancel-after-window')
  t.equal(created.statusCode, 201, created.body)
  const link = created.json()
  await forgotten(link.id, 2)

  const canceled = await app.inject({ method: 'POST', url: `/v1/payment-links/${link.id as string}/cancel`, headers: auth(m.apiKey), payload: {} })
  t.equal(canceled.statusCode, 200, canceled.body)
  t.equal(canceled.json().status, 'canceled')
  await until(async () => (await types(link.id)).length === 3, 20_000, 'the cancel recorded')
  t.same(await types(link.id), ['payment-link.requested', 'payment-link.issued', 'payment-link.canceled'])
})
