import t from 'tap'
import type { DojoClient } from '@paylinks/dojo-client'
import { freePort } from '@paylinks/test-kit'
import { addMerchant, buildIngest, connectClients, dojoClient, ingestEnv, linkEvents, moves, newLink, startRecorder, startSandbox, startSwitchableProxy, until } from './helpers.js'

// One sandbox, one recorder and one webhook-ingest for the file; each test is its own merchant
// (its own sandbox account and subscription), so fault modes do not leak between tests.
const sandbox = await startSandbox(t)
const port = await freePort()
const env = await ingestEnv(t, {
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  RECONCILE_QUIET_AFTER_MS: '1500',
  RECONCILE_MAX_INTERVAL_MS: '1500',
  RECONCILE_INTERVAL_MS: '200'
})
await startRecorder(t, env)
const clients = await connectClients(t, env)
const { ingest } = await buildIngest(t, env, port)

interface Shop { merchantId: string, dojo: DojoClient, subscriptionId: string }

async function shop (fault?: { mode: string, delayMs?: number }): Promise<Shop> {
  const merchant = await addMerchant(clients, env, sandbox.url)
  const { subscriptionId } = await ingest.subscriptions.sync(merchant.id)
  if (fault !== undefined) {
    const r = await sandbox.control('PUT', `/webhooks/${subscriptionId}/fault`, fault)
    if (r.status !== 200) throw new Error(`fault: ${r.status}`)
  }
  return { merchantId: merchant.id, dojo: dojoClient(t, sandbox.url, merchant.secretKey), subscriptionId }
}

/** Every delivery done (or dropped) and every queued confirmation finished. */
async function settled (s: Shop): Promise<void> {
  await until(async () => {
    const { body } = await sandbox.control('GET', `/webhooks/${s.subscriptionId}/deliveries`)
    const pending = (body.deliveries as Array<{ status: string }>).some((d) => d.status === 'pending')
    const queued = await clients.db.selectFrom('wi_confirmations').select('key').where('source', '=', 'webhook').execute()
    return !pending && queued.length === 0
  }, 20_000, 'deliveries and confirmations settled')
}

async function deliveredOk (s: Shop): Promise<Array<{ status: string, paymentStatus: string, attempts: Array<{ statusCode?: number }> }>> {
  return (await sandbox.control('GET', `/webhooks/${s.subscriptionId}/deliveries`)).body.deliveries
}

t.test('subscription sync should create one subscription per merchant and keep its secrets sealed', async (t) => {
  const s = await shop()
  const again = await ingest.subscriptions.sync(s.merchantId)
  t.equal(again.subscriptionId, s.subscriptionId)
  t.equal(again.created, false)
  const subs = await s.dojo.listWebhookSubscriptions()
  t.equal(subs.length, 1)
  t.equal(subs[0]!.url, `http://127.0.0.1:${port}/webhooks/dojo/${s.merchantId}`)
  t.same(subs[0]!.events, ['payment_intent.status_updated'])
  const row = await clients.db.selectFrom('wi_subscriptions').selectAll().where('merchant_id', '=', s.merchantId).executeTakeFirstOrThrow()
  for (const secret of subs[0]!.secrets) t.notOk(row.secrets_enc.includes(secret.value), 'secret not stored in clear')
})

t.test('a paid link should become paid once, from its webhook, with the amount Dojo confirmed', async (t) => {
  const s = await shop()
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId, { amount: 4321 })
  await sandbox.pay(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid')
  await settled(s)
  const [change] = await linkEvents(clients.store, linkId, 'payment-link.status-changed')
  t.match(change!.data, { from: 'issued', to: 'paid', dojoStatus: 'Captured', amount: { value: 4321, currencyCode: 'GBP' }, capturedAmount: 4321, refundedAmount: 0, source: 'webhook', paymentIntentId: intentId })
  t.same(await moves(clients.store, linkId), ['paid'])
  t.ok((await linkEvents(clients.store, linkId, 'payment-link.webhook-received')).length >= 1)
})

t.test('duplicated deliveries should record each webhook and each status change once, refunds included', async (t) => {
  const s = await shop({ mode: 'duplicate' })
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId, { amount: 2000 })
  await sandbox.pay(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid')
  await s.dojo.refundPaymentIntent(intentId, { amount: 2000, idempotencyKey: `refund-${intentId}` })
  // A refund is an event of its own (payment-link.refunded), not a status change.
  await until(async () => (await linkEvents(clients.store, linkId, 'payment-link.refunded')).length > 0, 20_000, 'refunded')
  await settled(s)
  t.same(await moves(clients.store, linkId), ['paid'])
  const refunds = await linkEvents(clients.store, linkId, 'payment-link.refunded')
  t.equal(refunds.length, 1, 'one refund, however often it was reported')
  t.match(refunds[0]!.data, { refundedAmount: 2000, capturedAmount: 2000, source: 'webhook' })
  const deliveries = await deliveredOk(s)
  const received = await linkEvents(clients.store, linkId, 'payment-link.webhook-received')
  t.equal(deliveries.length, 2 * received.length, 'every delivery came twice, each was recorded once')
  t.equal(new Set(received.map((e) => e.data.dojoEventId)).size, received.length)
})

t.test('queued deliveries of one intent should be confirmed with one read at Dojo', async (t) => {
  // No subscription: the only deliveries are the queued ones below; Dojo reads go through a counter.
  const proxy = await startSwitchableProxy(t, sandbox.url)
  const merchant = await addMerchant(clients, env, proxy.url)
  const { linkId, intentId } = await newLink(clients, dojoClient(t, sandbox.url, merchant.secretKey), merchant.id, { amount: 990 })
  await sandbox.pay(intentId)
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('payment_intent_id', '=', intentId).executeTakeFirst()) !== undefined, 20_000, 'link known')
  // Not due for a reconciler check during the test (this file's quiet period is 1.5 s): only
  // the queued deliveries may read the intent.
  await clients.db.updateTable('wi_links').set({ next_check_at: new Date(Date.now() + 3_600_000) }).where('payment_intent_id', '=', intentId).execute()
  const queued = async (): Promise<number> => (await clients.db.selectFrom('wi_confirmations').select('key').where('payment_intent_id', '=', intentId).execute()).length
  const before = proxy.hits()
  // As after a burst or an outage: a dozen deliveries of one payment waiting together.
  await clients.db.insertInto('wi_confirmations').values(Array.from({ length: 12 }, (_, i) => ({
    key: `test:${intentId}:${i}`, payment_intent_id: intentId, source: 'webhook' as const, cause_event_id: null, correlation_id: `test-${i}`, received_at: new Date(Date.now() - (12 - i) * 1000)
  }))).execute()
  ingest.confirmer.wake()
  await until(async () => await queued() === 0, 20_000, 'every queued delivery confirmed')
  t.equal(proxy.hits() - before, 1, 'one read of the intent answered all twelve')
  // The queue empties once JetStream has the move; the store records it a moment later.
  await until(async () => (await moves(clients.store, linkId)).length > 0, 20_000, 'the move recorded')
  t.same(await moves(clients.store, linkId), ['paid'])
  const [change] = await linkEvents(clients.store, linkId, 'payment-link.status-changed')
  t.match(change!.data, { to: 'paid', capturedAmount: 990, source: 'webhook' })
})

t.test('a batch of confirmations should finish each intent on its own: one that fails is retried, the others are done', async (t) => {
  const merchant = await addMerchant(clients, env, sandbox.url)
  const dojo = dojoClient(t, sandbox.url, merchant.secretKey)
  const paid = await Promise.all([newLink(clients, dojo, merchant.id, { amount: 310 }), newLink(clients, dojo, merchant.id, { amount: 320 })])
  for (const l of paid) await sandbox.pay(l.intentId)
  const intents = paid.map((l) => l.intentId)
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('payment_intent_id', 'in', intents).execute()).length === 2, 20_000, 'links known')
  // No subscription and no reconciler check due: only the rows below confirm. One names an
  // intent no link was issued for.
  await clients.db.updateTable('wi_links').set({ next_check_at: new Date(Date.now() + 3_600_000) }).where('payment_intent_id', 'in', intents).execute()
  const unknown = `pi_sandbox_nolink_${intents[0]!.slice(-8)}`
  await clients.db.insertInto('wi_confirmations').values([...intents, unknown].map((id, i) => ({
    key: `batch:${id}`, payment_intent_id: id, source: 'webhook' as const, cause_event_id: null, correlation_id: `batch-${i}`, received_at: new Date()
  }))).execute()
  ingest.confirmer.wake()
  const left = async (): Promise<Array<{ payment_intent_id: string, attempts: number, last_error: string | null }>> =>
    await clients.db.selectFrom('wi_confirmations').select(['payment_intent_id', 'attempts', 'last_error']).where('key', 'in', [...intents, unknown].map((id) => `batch:${id}`)).execute()
  await until(async () => (await left()).length === 1 && (await left())[0]!.attempts >= 1 && (await left())[0]!.last_error !== null, 20_000, 'the known intents confirmed, the unknown one rescheduled')
  t.match(await left(), [{ payment_intent_id: unknown, last_error: /WH_UNKNOWN_LINK/ }])
  for (const l of paid) {
    await until(async () => (await moves(clients.store, l.linkId)).length > 0, 20_000, 'the move recorded')
    t.same(await moves(clients.store, l.linkId), ['paid'])
    t.match((await linkEvents(clients.store, l.linkId, 'payment-link.status-changed'))[0]?.data, { source: 'webhook' })
  }
  await clients.db.deleteFrom('wi_confirmations').where('key', '=', `batch:${unknown}`).execute()
})

t.test('reordered deliveries should never move a link back', async (t) => {
  const s = await shop({ mode: 'reorder', delayMs: 300 })
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId, { manual: true })
  await sandbox.pay(intentId)
  const { captureId } = await s.dojo.capturePaymentIntent(intentId, { amount: 1250 })
  // A Manual capture is an event of its own: authorized (status change), then captured.
  await until(async () => (await linkEvents(clients.store, linkId, 'payment-link.captured')).length > 0, 20_000, 'captured')
  await settled(s)
  t.same(await moves(clients.store, linkId), ['authorized'], 'forward only')
  t.match((await linkEvents(clients.store, linkId, 'payment-link.captured')).map((e) => e.data), [{ captureId, capturedAmount: 1250 }])
})

t.test('delayed deliveries should end in the right status', async (t) => {
  const s = await shop({ mode: 'delay', delayMs: 300 })
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId, { manual: true })
  await sandbox.pay(intentId)
  await s.dojo.reversePaymentIntent(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('released'), 20_000, 'released')
  await settled(s)
  const all = await moves(clients.store, linkId)
  t.ok(['released', 'authorized,released'].includes(all.join(',')), `forward only: ${all.join(',')}`)
})

t.test('dropped deliveries should be caught by the reconciler', async (t) => {
  const s = await shop({ mode: 'drop' })
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId)
  await sandbox.pay(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid by reconciliation')
  const [change] = await linkEvents(clients.store, linkId, 'payment-link.status-changed')
  t.equal(change!.data.source, 'reconciler')
  t.equal((await linkEvents(clients.store, linkId, 'payment-link.webhook-received')).length, 0, 'no webhook ever came')
  t.ok((await deliveredOk(s)).every((d) => d.status === 'dropped'))
})

t.test('canceled and expired intents should end their links as canceled and expired', async (t) => {
  const s = await shop()
  const canceled = await newLink(clients, s.dojo, s.merchantId)
  const expired = await newLink(clients, s.dojo, s.merchantId)
  await s.dojo.cancelPaymentIntent(canceled.intentId)
  t.equal((await sandbox.control('POST', `/payment-intents/${expired.intentId}/expire`)).status, 200)
  await until(async () => (await moves(clients.store, canceled.linkId)).length > 0 && (await moves(clients.store, expired.linkId)).length > 0, 20_000, 'both ended')
  await settled(s)
  t.same(await moves(clients.store, canceled.linkId), ['canceled'])
  t.same(await moves(clients.store, expired.linkId), ['expired'])
})

// 202: the delivery can beat our subscriber to the link's issued event; it is kept, then recorded.
t.test('a rotated secret should verify, and deliveries should keep arriving', async (t) => {
  const s = await shop()
  const before = (await s.dojo.listWebhookSecrets(s.subscriptionId)).secrets.find((x) => x.isActive)!
  await ingest.subscriptions.rotate(s.merchantId)
  const after = (await s.dojo.listWebhookSecrets(s.subscriptionId)).secrets.find((x) => x.isActive)!
  t.not(after.id, before.id, 'Dojo signs with the new secret')
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId)
  await sandbox.pay(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid')
  await settled(s)
  const [change] = await linkEvents(clients.store, linkId, 'payment-link.status-changed')
  t.equal(change!.data.source, 'webhook')
  const deliveries = await deliveredOk(s)
  t.ok(deliveries.every((d) => d.status === 'delivered' && [200, 202].includes(d.attempts.at(-1)?.statusCode ?? 0)), JSON.stringify(deliveries))
})
