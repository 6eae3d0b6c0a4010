import t from 'tap'
import { createSecretBox } from '@paylinks/merchants'
import { signWebhookBody } from '@paylinks/dojo-client'
import { webhookEventId } from '../src/ids.js'
import { addMerchant, buildIngest, connectClients, ingestEnv, issueLink, linkEvents, startRecorder, until } from './helpers.js'

// Dojo's published test vector: this body, this secret, this signature.
const VECTOR_BODY = '{"id":"evt_hnnHxIKR_Uy6bhZCusCltw","event":"payment_intent.created","accountId":"acc_test","createdAt":"2022-02-01T13:07:41.8667859Z","data":{"paymentIntentId":"pi_vpwd4ooAPEqyNAQe4z89WQ","paymentStatus":"Created","captureMode":"Auto"}}'
const VECTOR_SECRET = 'PDYkJQq6sESYHp_zJuTTBQ'
const VECTOR_SIGNATURE = 'sha256=4B-49-F8-FE-25-A7-E6-7D-00-4F-A7-9C-F8-0B-63-00-C7-77-B4-F2-2D-E5-E1-22-84-FA-04-18-50-A1-76-FD'

const env = await ingestEnv(t, { WEBHOOK_BODY_LIMIT_BYTES: '2048' })
await startRecorder(t, env)
const clients = await connectClients(t, env)
// Nothing listens on port 9: a confirmation fails fast and stays queued.
const merchant = await addMerchant(clients, env, 'http://127.0.0.1:9')
const box = createSecretBox([env.SECRETS_ENCRYPTION_KEYS!])
const retiredAt = new Date(Date.now() - 1000).toISOString()
const longAgo = new Date(Date.now() - 10 * 86_400_000).toISOString()
await clients.db.insertInto('wi_subscriptions').values({
  merchant_id: merchant.id,
  subscription_id: 'ws_test',
  url: `http://127.0.0.1/webhooks/dojo/${merchant.id}`,
  secrets_enc: box.encrypt(JSON.stringify([
    { id: 'sc_1', value: VECTOR_SECRET, active: true },
    { id: 'sc_0', value: 'previous-secret', active: false, retiredAt },
    { id: 'sc_old', value: 'ancient-secret', active: false, retiredAt: longAgo }
  ]))
}).execute()
const { app } = await buildIngest(t, env)
const url = `/webhooks/dojo/${merchant.id}`
const post = async (body: string | Buffer, signature?: string, path = url) => await app.inject({
  method: 'POST', url: path, payload: body, headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'dojo-signature': signature }) }
})
const streamMessages = async (): Promise<number> => (await clients.messaging.jsm.streams.info(env.EVENTS_STREAM!)).state.messages
const metric = async (outcome: string): Promise<number> => {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const match = new RegExp(`webhook_ingest_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)
  return Number(match?.[1] ?? -1)
}

t.test('signWebhookBody should reproduce the published test vector', async (t) => {
  t.equal(signWebhookBody(VECTOR_BODY, VECTOR_SECRET), VECTOR_SIGNATURE)
})

t.test('refused deliveries should get 401, 413 or 400, be counted, and change nothing', async (t) => {
  const before = await streamMessages()
  const changedByte = VECTOR_BODY.replace('"Created"', '"Captured"')
  t.equal((await post(VECTOR_BODY)).statusCode, 401, 'no signature')
  t.equal((await post(VECTOR_BODY, signWebhookBody(VECTOR_BODY, 'forged-secret'))).statusCode, 401, 'forged signature')
  t.equal((await post(changedByte, VECTOR_SIGNATURE)).statusCode, 401, 'replayed signature over a changed body')
  t.equal((await post(VECTOR_BODY, 'sha256=00')).statusCode, 401, 'garbage signature')
  t.equal((await post(VECTOR_BODY, signWebhookBody(VECTOR_BODY, 'ancient-secret'))).statusCode, 401, 'a secret retired past the grace period')
  const big = JSON.stringify({ ...JSON.parse(VECTOR_BODY), padding: 'x'.repeat(4000) })
  const tooLarge = await post(big, signWebhookBody(big, VECTOR_SECRET))
  t.equal(tooLarge.statusCode, 413, 'oversized')
  t.equal(tooLarge.json().code, 'WH_TOO_LARGE')
  t.match(tooLarge.headers['content-type'], /application\/problem\+json/)
  const notJson = '{"id": "evt_1", '
  t.equal((await post(notJson, signWebhookBody(notJson, VECTOR_SECRET))).statusCode, 400, 'malformed JSON')
  const wrongShape = JSON.stringify({ id: 'evt_2', event: 'payment_intent.status_updated', data: { paymentIntentId: 'nope' } })
  const shape = await post(wrongShape, signWebhookBody(wrongShape, VECTOR_SECRET))
  t.equal(shape.statusCode, 400, 'unknown shape')
  t.equal(shape.json().code, 'WH_MALFORMED')
  const otherEvent = JSON.stringify({ ...JSON.parse(VECTOR_BODY), event: 'account.updated' })
  t.equal((await post(otherEvent, signWebhookBody(otherEvent, VECTOR_SECRET))).statusCode, 400, 'not a payment-intent event')
  t.equal((await post(VECTOR_BODY, VECTOR_SIGNATURE, '/webhooks/dojo/mer_doesnotexist')).statusCode, 401, 'unknown merchant')
  t.equal((await post(VECTOR_BODY, VECTOR_SIGNATURE, '/webhooks/dojo/..%2Fx')).statusCode, 401, 'not a merchant id')
  t.equal(await streamMessages(), before, 'nothing was published')
  t.equal((await clients.db.selectFrom('wi_unmatched_webhooks').select('dojo_event_id').execute()).length, 0, 'nothing was kept')
  t.equal(await metric('unauthorized'), 5)
  t.equal(await metric('too_large'), 1)
  t.equal(await metric('malformed'), 3)
  t.equal(await metric('unknown_merchant'), 2)
})

t.test('an unsigned or wrongly signed delivery should get the same 401, byte for byte, whether or not the merchant exists', async (t) => {
  const answer = async (path: string, signature?: string): Promise<unknown> => {
    const reply = await post(VECTOR_BODY, signature, path)
    return { status: reply.statusCode, type: reply.headers['content-type'], length: reply.headers['content-length'], body: reply.body }
  }
  const forged = signWebhookBody(VECTOR_BODY, 'forged-secret')
  const known = await answer(url)
  t.match(known, { status: 401, type: /^application\/problem\+json/ })
  for (const path of ['/webhooks/dojo/mer_doesnotexist', '/webhooks/dojo/mer_x', '/webhooks/dojo/..%2Fx']) {
    t.same(await answer(path), known, `unsigned, ${path}`)
    t.same(await answer(path, forged), await answer(url, forged), `wrongly signed, ${path}`)
    t.same(await answer(path, 'sha256=00'), await answer(url, 'sha256=00'), `garbage signature, ${path}`)
  }
})

t.test('a delivery for an intent with no known link should be kept, then recorded once the link is issued', async (t) => {
  const first = await post(VECTOR_BODY, VECTOR_SIGNATURE)
  t.equal(first.statusCode, 202, 'the published test vector verifies')
  t.same(first.json(), { status: 'pending' })
  t.same((await post(VECTOR_BODY, VECTOR_SIGNATURE)).json(), { status: 'duplicate' }, 'a re-delivery changes nothing')
  const linkId = await issueLink(clients, merchant.id, 'pi_vpwd4ooAPEqyNAQe4z89WQ')
  await until(async () => (await linkEvents(clients.store, linkId, 'payment-link.webhook-received')).length === 1, 20_000, 'kept delivery recorded')
  const [received] = await linkEvents(clients.store, linkId, 'payment-link.webhook-received')
  t.equal(received!.id, webhookEventId('evt_hnnHxIKR_Uy6bhZCusCltw'))
  t.equal(received!.data.paymentStatus, 'Created')
  await until(async () => (await clients.db.selectFrom('wi_unmatched_webhooks').select('dojo_event_id').execute()).length === 0, 5000, 'kept row removed')
})

t.test('a delivery for a known link should be published once, and its retries acknowledged as duplicates', async (t) => {
  const linkId = await issueLink(clients, merchant.id, 'pi_sandbox_knownlink0000000000000')
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('link_id', '=', linkId).execute()).length === 1, 20_000, 'link known')
  const body = JSON.stringify({ id: 'evt_known_1', event: 'payment_intent.status_updated', accountId: 'acc_x', createdAt: new Date().toISOString(), data: { paymentIntentId: 'pi_sandbox_knownlink0000000000000', paymentStatus: 'Captured', captureMode: 'Auto' } })
  const first = await post(body, signWebhookBody(body, VECTOR_SECRET))
  t.equal(first.statusCode, 200)
  t.same(first.json(), { status: 'accepted' })
  const again = await post(body, signWebhookBody(body, 'previous-secret'))
  t.same(again.json(), { status: 'duplicate' }, 'a secret retired within the grace period still verifies')
  await until(async () => (await linkEvents(clients.store, linkId, 'payment-link.webhook-received')).length === 1, 20_000, 'delivery recorded')
  // Dojo is unreachable here: the confirmation is queued and retried, not lost.
  await until(async () => {
    const row = await clients.db.selectFrom('wi_confirmations').selectAll().where('payment_intent_id', '=', 'pi_sandbox_knownlink0000000000000').executeTakeFirst()
    return row !== undefined && row.attempts >= 2 && row.last_error !== null
  }, 20_000, 'confirmation retried')
  t.equal(await metric('accepted'), 1)
  t.equal(await metric('duplicate'), 2)
  t.same(await linkEvents(clients.store, linkId, 'payment-link.status-changed'), [], 'nothing unconfirmed changes the status')
})
