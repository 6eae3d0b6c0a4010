import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createSecretBox } from '@paylinks/merchants'
import { signWebhookBody } from '@paylinks/dojo-client'
import { addMerchant, buildIngest, connectClients, dojoClient, ingestEnv, moves, newLink, startRecorder, startSandbox, until } from './helpers.js'

// The confirmer under sustained overload: every window is slow (the event loop is held up on
// purpose and the target is 1 ms), deliveries keep arriving, and confirmations must still
// progress at CONFIRM_MIN_RATE, then run free once the deliveries stop.
const sandbox = await startSandbox(t)
const env = await ingestEnv(t, { CONFIRM_ACCEPT_TARGET_MS: '1', CONFIRM_MIN_RATE: '5' })
await startRecorder(t, env)
const clients = await connectClients(t, env)
const { app } = await buildIngest(t, env)

const merchant = await addMerchant(clients, env, sandbox.url)
const secret = randomBytes(16).toString('base64url')
const box = createSecretBox([env.SECRETS_ENCRYPTION_KEYS!])
await clients.db.insertInto('wi_subscriptions').values({
  merchant_id: merchant.id, subscription_id: 'ws_yield', url: 'http://127.0.0.1/yield', secrets_enc: box.encrypt(JSON.stringify([{ id: 'sc_yield', value: secret, active: true }]))
}).execute()

async function deliver (dojoEventId: string, paymentIntentId: string): Promise<number> {
  const body = JSON.stringify({ id: dojoEventId, event: 'payment_intent.status_updated', data: { paymentIntentId, paymentStatus: 'Captured', captureMode: 'Auto' } })
  const res = await app.inject({ method: 'POST', url: `/webhooks/dojo/${merchant.id}`, payload: body, headers: { 'content-type': 'application/json', 'dojo-signature': signWebhookBody(body, secret) } })
  return res.statusCode
}

async function gauge (name: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.slice(name.length + 1))
}

t.test('confirmations should progress at the floor rate while slow deliveries keep arriving, and run free once they stop', async (t) => {
  const dojo = dojoClient(t, sandbox.url, merchant.secretKey)
  const links: Array<{ linkId: string, intentId: string }> = []
  for (let i = 0; i < 8; i++) {
    const link = await newLink(clients, dojo, merchant.id)
    await sandbox.pay(link.intentId)
    links.push(link)
  }
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('merchant_id', '=', merchant.id).execute()).length === links.length, 20_000, 'links known')

  // Overload: the loop is held 25 ms in every 50, and a delivery (a retry of one event, a
  // duplicate) comes every 20 ms, so every window has deliveries and is slow.
  const spin = setInterval(() => { const until = Date.now() + 25; while (Date.now() < until); }, 50)
  let flowing = true
  const retries = (async () => {
    while (flowing) {
      await deliver('evt_yield_retry', links[0]!.intentId)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  t.teardown(async () => { flowing = false; clearInterval(spin); await retries })

  for (const [i, link] of links.entries()) t.equal(await deliver(`evt_yield_${i}`, link.intentId), 200)
  await until(async () => await gauge('webhook_ingest_confirmations_yielding') === 1 && await gauge('webhook_ingest_confirmation_rate_limit') === 5, 10_000, 'limited at the floor')
  // Every payment is confirmed while the overload goes on (at 5/s: about two seconds).
  await until(async () => {
    for (const { linkId } of links) if (!(await moves(clients.store, linkId)).includes('paid')) return false
    return true
  }, 30_000, 'every link paid under overload')
  t.equal(await gauge('webhook_ingest_confirmations_yielding'), 1, 'still limited when the last was confirmed')
  t.equal(await gauge('webhook_ingest_confirmation_rate_limit'), 5, 'at the floor rate')

  flowing = false
  clearInterval(spin)
  await retries
  await until(async () => await gauge('webhook_ingest_confirmations_yielding') === 0, 10_000, 'free once the deliveries stop')
  for (const { linkId } of links) t.same(await moves(clients.store, linkId), ['paid'])
})
