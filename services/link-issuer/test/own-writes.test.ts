import t from 'tap'
import { paymentLinkStream } from '@paylinks/contracts'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, startRecorder, startSandbox } from './helpers.js'

// A create is answered once JetStream has acknowledged its events, not once the store has
// recorded them; reads of the link wait for the recording instead: on the replica that wrote it
// always, on another one for the write's Paylinks-Position when the caller sends it, and for
// everything JetStream has acknowledged when it finds no link (or one still requested). The recorder is
// started only after the create here, so the answer cannot have waited for it, and a read then
// can only wait (and say so past its bound) where without the wait it would find no link.

const sandbox = await startSandbox(t)
// Reads wait up to REQUEST_TIMEOUT_MS - 1 s for the recording.
const env = await issuerEnv(t, { REQUEST_TIMEOUT_MS: '4000' })
const a = await buildIssuer(t, env)
const b = await buildIssuer(t, env)
const store = await openStore(t, env)
const m = await createTestMerchant(t, env, sandbox.url)

t.test('a create should be answered before the store records it, and reads of the link should wait for the recording', async (t) => {
  const res = await a.inject({ method: 'POST', url: '/v1/payment-links', headers: auth(m.apiKey), payload: { reference: 'unrecorded', amount: { value: 1250, currencyCode: 'GBP' } } })
  t.equal(res.statusCode, 201, res.body)
  const link = res.json()
  t.match(link, { status: 'issued', paymentIntentId: /^pi_/ })
  t.same(await store.readStream(paymentLinkStream(link.id as string)), [], 'no recorder runs: nothing is recorded yet')
  const position = res.headers['paylinks-position'] as string

  // Nothing records it: a read on the replica that wrote it waits, in vain, and says so.
  const waited = await a.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) })
  t.equal(waited.statusCode, 503, waited.body)
  t.equal(waited.json().code, 'LINK_NOT_RECORDED')
  const elsewhere = await b.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: { ...auth(m.apiKey), 'paylinks-position': position } })
  t.equal(elsewhere.statusCode, 503, 'another replica given the position waits for it too')
  // Without the position, another replica that finds no link waits for everything JetStream has
  // acknowledged before it says 404: not a stale 404 for a link that exists.
  const unsent = await b.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) })
  t.equal(unsent.statusCode, 503, unsent.body)
  t.equal(unsent.json().code, 'LINK_NOT_RECORDED')

  // Once a recorder runs, the same reads answer with the link as it was answered.
  await startRecorder(t, env)
  const [got, other, events, otherUnsent] = await Promise.all([
    a.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) }),
    b.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: { ...auth(m.apiKey), 'paylinks-position': position } }),
    a.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}/events`, headers: auth(m.apiKey) }),
    b.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) })
  ])
  t.equal(otherUnsent!.statusCode, 200, otherUnsent!.body)
  t.match(otherUnsent!.json(), { id: link.id, status: 'issued' }, 'another replica, no position sent: the link as answered')
  t.equal(got!.statusCode, 200, got!.body)
  t.match(got!.json(), { id: link.id, status: 'issued', paymentIntentId: link.paymentIntentId, url: link.url })
  t.equal(other!.statusCode, 200, other!.body)
  t.match(other!.json(), { id: link.id, status: 'issued', paymentIntentId: link.paymentIntentId })
  t.same(events!.json().data.map((e: { type: string }) => e.type), ['payment-link.requested', 'payment-link.issued'])

  // A change on the replica that wrote it decides on the recorded link, not on an older state.
  const canceled = await a.inject({ method: 'POST', url: `/v1/payment-links/${link.id as string}/cancel`, headers: auth(m.apiKey) })
  t.equal(canceled.statusCode, 200, canceled.body)
  const after = await a.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}`, headers: auth(m.apiKey) })
  t.equal(after.json().status, 'canceled', 'the cancel is read back at once')
})

t.test('a Paylinks-Position that is not a position should be refused', async (t) => {
  const res = await b.inject({ method: 'GET', url: '/v1/payment-links/lnk_doesnotexist00', headers: { ...auth(m.apiKey), 'paylinks-position': 'soon' } })
  t.equal(res.statusCode, 400, res.body)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
})
