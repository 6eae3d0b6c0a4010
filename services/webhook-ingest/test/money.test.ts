import t from 'tap'
import { freePort } from '@paylinks/test-kit'
import { addMerchant, buildIngest, connectClients, dojoClient, ingestEnv, linkEvents, moves, newLink, startRecorder, startSandbox, until } from './helpers.js'

// Money moved at Dojo, not through our API (the merchant used Dojo's portal): webhook-ingest
// records the captures and refunds Dojo shows, from webhooks, or from the reconciler when no
// webhook says so (a partial refund changes no Dojo status, so none is sent).
const sandbox = await startSandbox(t)
const port = await freePort()
const env = await ingestEnv(t, {
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  RECONCILE_QUIET_AFTER_MS: '500',
  RECONCILE_MAX_INTERVAL_MS: '1000',
  RECONCILE_INTERVAL_MS: '200'
})
await startRecorder(t, env)
const clients = await connectClients(t, env)
const { ingest } = await buildIngest(t, env, port)

async function shop (fault?: { mode: string }): Promise<{ merchantId: string, dojo: ReturnType<typeof dojoClient> }> {
  const merchant = await addMerchant(clients, env, sandbox.url)
  const { subscriptionId } = await ingest.subscriptions.sync(merchant.id)
  if (fault !== undefined) await sandbox.control('PUT', `/webhooks/${subscriptionId}/fault`, fault)
  return { merchantId: merchant.id, dojo: dojoClient(t, sandbox.url, merchant.secretKey) }
}
const refunds = async (linkId: string): Promise<Array<Record<string, unknown>>> => (await linkEvents(clients.store, linkId, 'payment-link.refunded')).map((e) => e.data)

t.test('the reconciler should pick up refunds made directly at Dojo, partial then full', async (t) => {
  const s = await shop()
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId, { amount: 2000 })
  await sandbox.pay(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid')
  await s.dojo.refundPaymentIntent(intentId, { amount: 500, idempotencyKey: 'portal-1' })
  await until(async () => (await refunds(linkId)).length === 1, 20_000, 'the partial refund found')
  t.match((await refunds(linkId))[0], { amount: { value: 500, currencyCode: 'GBP' }, refundedAmount: 500, capturedAmount: 2000, source: 'reconciler', paymentIntentId: intentId })
  await s.dojo.refundPaymentIntent(intentId, { amount: 1500, idempotencyKey: 'portal-2' })
  await until(async () => (await refunds(linkId)).length === 2, 20_000, 'the last refund found')
  t.match((await refunds(linkId))[1], { amount: { value: 1500 }, refundedAmount: 2000 })
  await until(async () => (await clients.db.selectFrom('wi_links').select('settled').where('link_id', '=', linkId).executeTakeFirstOrThrow()).settled, 20_000, 'refunded: settled')
  t.match(await clients.db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'refunded', settled: true })
  t.equal((await refunds(linkId)).length, 2, 'each refund recorded once, however many checks and webhooks saw it')
})

t.test('Manual captures at Dojo should be recorded one by one, each once, the link captured', async (t) => {
  const s = await shop()
  const { linkId, intentId } = await newLink(clients, s.dojo, s.merchantId, { amount: 3000, manual: true })
  await sandbox.pay(intentId)
  await until(async () => (await moves(clients.store, linkId)).includes('authorized'), 20_000, 'authorized')
  const first = await s.dojo.capturePaymentIntent(intentId, { amount: 1000 })
  const second = await s.dojo.capturePaymentIntent(intentId, { amount: 2000 })
  await until(async () => (await linkEvents(clients.store, linkId, 'payment-link.captured')).length === 2, 20_000, 'both captures')
  const captured = (await linkEvents(clients.store, linkId, 'payment-link.captured')).map((e) => e.data)
  t.match(captured, [{ captureId: first.captureId, capturedAmount: 1000 }, { captureId: second.captureId, capturedAmount: 3000 }])
  await until(async () => (await clients.db.selectFrom('wi_links').select(['status']).where('link_id', '=', linkId).executeTakeFirstOrThrow()).status === 'captured', 20_000, 'wi_links captured')
  t.same(await moves(clients.store, linkId), ['authorized'], 'captures are events of their own, not status changes')
})
