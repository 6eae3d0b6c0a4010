import t from 'tap'
import { sql } from 'kysely'
import { addMerchant, buildIngest, connectClients, dojoClient, ingestEnv, moves, newLink, startRecorder, startSandbox, startSwitchableProxy, until } from './helpers.js'

// Two replicas of webhook-ingest on one database and stream: every sweep and timer must have
// one owner. One sandbox and one recorder for the file.
const sandbox = await startSandbox(t)
const env = await ingestEnv(t, { CONFIRM_LEASE_MS: '600', DOJO_TIMEOUT_MS: '5000' })
await startRecorder(t, env)
const clients = await connectClients(t, env)
const a = await buildIngest(t, env)
const b = await buildIngest(t, env)

t.test('subscription sync on two replicas at once should create one Dojo subscription', async (t) => {
  const merchant = await addMerchant(clients, env, sandbox.url)
  const results = await Promise.all([a.ingest.subscriptions.sync(merchant.id), b.ingest.subscriptions.sync(merchant.id)])
  const url = a.ingest.subscriptions.urlFor(merchant.id)
  const subscriptions = (await dojoClient(t, sandbox.url, merchant.secretKey).listWebhookSubscriptions()).filter((s) => s.url === url)
  t.equal(subscriptions.length, 1, 'one subscription at Dojo: each delivery comes once')
  t.same(results.map((r) => r.created).sort(), [false, true], 'one replica created it, the other found it')
  t.equal(results[0]!.subscriptionId, results[1]!.subscriptionId)
  const sweeps = await Promise.all([a.ingest.subscriptions.syncAll(), b.ingest.subscriptions.syncAll()])
  t.ok(sweeps.some((s) => !s.skipped), 'a sweep ran')
  t.equal((await dojoClient(t, sandbox.url, merchant.secretKey).listWebhookSubscriptions()).filter((s) => s.url === url).length, 1, 'still one after both sweeps')
})

t.test('the reconciler on two replicas at once should queue each quiet link once', async (t) => {
  const merchant = await addMerchant(clients, env, sandbox.url)
  const dojo = dojoClient(t, sandbox.url, merchant.secretKey)
  const links = await Promise.all(Array.from({ length: 6 }, async () => await newLink(clients, dojo, merchant.id)))
  const ids = links.map((l) => l.linkId)
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('link_id', 'in', ids).execute()).length === ids.length, 20_000, 'links known')
  await clients.db.updateTable('wi_links').set({ next_check_at: sql<Date>`now() - interval '1 second'`, checks: 0 }).where('link_id', 'in', ids).execute()
  const queued = await Promise.all([a.ingest.reconciler.runOnce(), b.ingest.reconciler.runOnce()])
  t.ok(queued.reduce((x, y) => x + y, 0) >= ids.length, `${queued.join(' + ')} queued`)
  const checks = await clients.db.selectFrom('wi_links').select(['link_id', 'checks']).where('link_id', 'in', ids).execute()
  t.same(checks.map((c) => c.checks), ids.map(() => 1), 'each link checked once, by one replica')
})

t.test('a confirmation slower than its lease should be read once: the holder renews the lease while Dojo answers', async (t) => {
  const proxy = await startSwitchableProxy(t, sandbox.url)
  const merchant = await addMerchant(clients, env, proxy.url)
  const dojo = dojoClient(t, sandbox.url, merchant.secretKey)
  const { linkId, intentId } = await newLink(clients, dojo, merchant.id)
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('link_id', '=', linkId).execute()).length === 1, 20_000, 'link known')
  await sandbox.pay(intentId)
  // Dojo takes three leases' time to answer each read.
  proxy.setDelay(1800)
  const before = proxy.hits()
  await a.ingest.receiver.receive({ merchantId: merchant.id, dojoEventId: `evt_slow_${intentId}`, event: 'payment_intent.status_updated', paymentIntentId: intentId, paymentStatus: 'Captured', receivedAt: new Date() })
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 30_000, 'paid')
  await until(async () => (await clients.db.selectFrom('wi_confirmations').select('key').where('payment_intent_id', '=', intentId).execute()).length === 0, 10_000, 'queue empty')
  t.equal(proxy.hits() - before, 1, 'one read of the intent at Dojo, though it took longer than the lease')
  t.same(await moves(clients.store, linkId), ['paid'])
})
