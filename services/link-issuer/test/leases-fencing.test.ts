import t from 'tap'
import { sql } from 'kysely'
import { paymentLinkStream } from '@paylinks/contracts'
import { createDatabase } from '@paylinks/event-store'
import { connectMessaging, createEventPublisher } from '@paylinks/messaging'
import { onTeardown, roleUrl } from '@paylinks/test-kit'
import { INSTANCE_LOCK_CLASS } from '../src/issuing/instance.js'
import { linkIdFor, registry } from '../src/link.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, whenRecorded, startFaultyProxy, startRecorder, startSandbox, until } from './helpers.js'

// Two link-issuer instances on one database and stream. Instance A's issue lease is lost while
// its Dojo create is in flight: its session on Postgres (which holds its instance lock) is
// terminated, as a network cut or a Postgres failover would. B takes the link over.

const sandbox = await startSandbox(t)
// Long enough that A's held create does not time out before the test releases it.
const env = await issuerEnv(t, { DOJO_TIMEOUT_MS: '20000', ISSUE_WAIT_MS: '15000' })
await startRecorder(t, env)
const a = await buildIssuer(t, env)
const b = await buildIssuer(t, env)
const store = await openStore(t, env)
const owner = createDatabase({ connectionString: roleUrl(env.DATABASE_URL!, 'postgres'), max: 1 })
onTeardown(t, () => owner.destroy())

const body = (reference: string): Record<string, unknown> => ({ reference, amount: { value: 1500, currencyCode: 'GBP' } })

/** End the Postgres session that holds the instance lock of the link's lease holder. */
async function cutHolderSession (linkId: string): Promise<void> {
  const { rows } = await sql<{ done: boolean }>`
    SELECT pg_terminate_backend(p.pid) AS done FROM pg_locks p JOIN li_issue_leases l ON p.objid = l.owner_lock::oid
    WHERE l.link_id = ${linkId} AND p.locktype = 'advisory' AND p.granted AND p.objsubid = 2 AND p.classid = ${INSTANCE_LOCK_CLASS}::oid
      AND p.database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(owner)
  if (rows.length !== 1 || rows[0]!.done !== true) throw new Error(`no live holder session for ${linkId}`)
}

t.test('a holder that lost its lease before Dojo saw its create should not publish, and should cancel the intent the link does not use', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['hold'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const headers = { ...auth(m.apiKey), 'idempotency-key': 'fence-late' }
  const linkId = linkIdFor(m.id, 'fence-late')
  const first = a.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('fence-late') })
  await until(() => proxy.held() === 1, 10_000, 'A\'s create held')
  await cutHolderSession(linkId)

  // The partner retries on B: A's lease is free (its session is gone); Dojo has no intent yet.
  const retry = await b.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('fence-late') })
  t.equal(retry.statusCode, 201, retry.body)
  const recordedIntent = retry.json().paymentIntentId as string

  // A's create now lands at Dojo, after B's: a second intent, which A must not publish.
  proxy.release()
  const late = await first
  t.equal(late.statusCode, 201, late.body)
  t.equal(late.json().paymentIntentId, recordedIntent, 'A answers with the intent that was recorded')
  await Promise.all([retry, late].map(async (res) => { await whenRecorded(store, res) }))
  t.same((await store.readStream(paymentLinkStream(linkId))).map((e) => e.type), ['payment-link.requested', 'payment-link.issued'], 'one outcome')

  const intents = (await m.dojo.searchPaymentIntents({})).data
  t.equal(intents.length, 2, 'A\'s create did reach Dojo')
  const other = intents.find((i) => i.id !== recordedIntent)!
  t.equal(other.status, 'Canceled', 'the intent the link does not use was canceled')
  t.equal(intents.find((i) => i.id === recordedIntent)!.status, 'Created')
})

t.test('a holder that lost its lease should not publish its outcome even when its create returns first', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['hold', 'hold'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const headers = { ...auth(m.apiKey), 'idempotency-key': 'fence-first' }
  const linkId = linkIdFor(m.id, 'fence-first')
  const first = a.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('fence-first') })
  await until(() => proxy.held() === 1, 10_000, 'A\'s create held')
  await cutHolderSession(linkId)
  const retry = b.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('fence-first') })
  await until(() => proxy.held() === 2, 10_000, 'B\'s create held')

  // A's create is answered while B's is still in flight: A is fenced, so it does not publish.
  proxy.release(1)
  const aIntent = await until(async () => (await m.dojo.searchPaymentIntents({})).data[0], 10_000, 'A\'s intent at Dojo')
  proxy.release()
  const [late, taken] = await Promise.all([first, retry])
  t.equal(taken.statusCode, 201, taken.body)
  t.equal(late.statusCode, 201, late.body)
  const recordedIntent = taken.json().paymentIntentId as string
  t.not(recordedIntent, aIntent.id, 'the new holder\'s intent is the one recorded')
  t.equal(late.json().paymentIntentId, recordedIntent)
  await Promise.all([taken, late].map(async (res) => { await whenRecorded(store, res) }))
  t.same((await store.readStream(paymentLinkStream(linkId))).map((e) => e.type), ['payment-link.requested', 'payment-link.issued'])
  const intents = (await m.dojo.searchPaymentIntents({})).data
  t.same(Object.fromEntries(intents.map((i) => [i.id, i.status])), { [recordedIntent]: 'Created', [aIntent.id]: 'Canceled' }, 'A canceled its own')
})

t.test('a holder that lost its lease after Dojo created its intent should leave it to the new holder, which adopts it', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, ['slow'], 5000)
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const headers = { ...auth(m.apiKey), 'idempotency-key': 'fence-adopt' }
  const linkId = linkIdFor(m.id, 'fence-adopt')
  const first = a.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('fence-adopt') })
  const created = await until(async () => (await m.dojo.searchPaymentIntents({})).data[0], 10_000, 'A\'s intent created at Dojo')
  await cutHolderSession(linkId)

  const retry = await b.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('fence-adopt') })
  t.equal(retry.statusCode, 201, retry.body)
  t.equal(retry.json().paymentIntentId, created.id, 'B found A\'s intent by its reference')
  t.equal(proxy.creates(), 1, 'B created nothing')
  const late = await first
  t.equal(late.statusCode, 201, late.body)
  t.equal(late.json().paymentIntentId, created.id)
  await Promise.all([retry, late].map(async (res) => { await whenRecorded(store, res) }))
  t.same((await store.readStream(paymentLinkStream(linkId))).map((e) => e.type), ['payment-link.requested', 'payment-link.issued'])
  const intents = (await m.dojo.searchPaymentIntents({})).data
  t.same(intents.map((i) => [i.id, i.status]), [[created.id, 'Created']], 'one intent, not canceled')
})

t.test('an outcome published late on the requested event\'s sequence should be refused by the stream', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const res = await a.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: body('fence-seq') })
  t.equal(res.statusCode, 201, res.body)
  await whenRecorded(store, res)
  const [requested] = await store.readStream(paymentLinkStream(res.json().id as string))
  // What a holder that learned too late would publish: its outcome, on the state it decided on.
  const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'fencing-test' })
  onTeardown(t, () => messaging.close())
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: env.EVENTS_SUBJECT_PREFIX!, registry })
  const stale = registry.create('payment-link.issued', {
    linkId: res.json().id, merchantId: m.id, paymentIntentId: 'pi_sandbox_staleholder00000000000', url: 'https://example.invalid/stale', expiresAt: res.json().expiresAt
  }, { streamId: paymentLinkStream(res.json().id as string), metadata: { correlationId: 'stale', producer: 'link-issuer' } })
  await t.rejects(publisher.publish([stale], { expectedLastSubjectSequence: requested!.position }), { code: 'MSG_CONCURRENCY' })
  const link = await a.inject({ method: 'GET', url: `/v1/payment-links/${res.json().id as string}`, headers: auth(m.apiKey) })
  t.equal(link.json().paymentIntentId, res.json().paymentIntentId, 'the recorded outcome stands')
})

t.test('a retried create while the first is still at Dojo should answer 202 with the link requested, then the poll should find it issued', async (t) => {
  const impatient = await buildIssuer(t, { ...env, ISSUE_WAIT_MS: '200' })
  const proxy = await startFaultyProxy(t, sandbox.url, ['hold'])
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const headers = { ...auth(m.apiKey), 'idempotency-key': 'poll-me' }
  const first = a.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('poll-me') })
  await until(() => proxy.held() === 1, 10_000, 'the first create held')
  const retry = await impatient.inject({ method: 'POST', url: '/v1/payment-links', headers, payload: body('poll-me') })
  t.equal(retry.statusCode, 202, retry.body)
  t.match(retry.json(), { id: linkIdFor(m.id, 'poll-me'), status: 'requested', url: null, reference: 'poll-me' })
  t.equal(retry.headers.location, `/v1/payment-links/${linkIdFor(m.id, 'poll-me')}`)
  t.equal(retry.headers['retry-after'], '1')
  proxy.release()
  const issued = await first
  t.equal(issued.statusCode, 201)
  // Issued on the other replica: its answer's position makes this one include it.
  const polled = await impatient.inject({ method: 'GET', url: retry.headers.location!, headers: { ...auth(m.apiKey), 'paylinks-position': issued.headers['paylinks-position'] as string } })
  t.match(polled.json(), { status: 'issued', url: /^http/ })
  t.equal(proxy.creates(), 1, 'the retry created nothing')
})
