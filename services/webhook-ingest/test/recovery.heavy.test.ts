import t from 'tap'
import { freePort, spawnService } from '@paylinks/test-kit'
import { addMerchant, buildIngest, connectClients, dojoClient, INGEST_ENTRY, ingestEnv, linkEvents, moves, newLink, startRecorder, startSandbox, startSwitchableProxy, until } from './helpers.js'

// Timing-heavy (retries, a killed process): run alone. One sandbox and one recorder for the file.
const sandbox = await startSandbox(t)
const env = await ingestEnv(t)
await startRecorder(t, env)
const clients = await connectClients(t, env)

async function confirmationFailedTwice (intentId: string): Promise<boolean> {
  const row = await clients.db.selectFrom('wi_confirmations').selectAll().where('payment_intent_id', '=', intentId).executeTakeFirst()
  return row !== undefined && row.attempts >= 2 && /DOJO_UNAVAILABLE/.test(row.last_error ?? '')
}

t.test('a confirmation should be retried while Dojo is down, and recorded once it is back', async (t) => {
  const port = await freePort()
  const proxy = await startSwitchableProxy(t, sandbox.url)
  const merchant = await addMerchant(clients, env, proxy.url)
  const dojo = dojoClient(t, sandbox.url, merchant.secretKey)
  const { ingest } = await buildIngest(t, { ...env, PUBLIC_URL: `http://127.0.0.1:${port}` }, port)
  await ingest.subscriptions.sync(merchant.id)
  const { linkId, intentId } = await newLink(clients, dojo, merchant.id)
  proxy.setDown(true)
  await sandbox.pay(intentId)
  await until(async () => await confirmationFailedTwice(intentId), 20_000, 'confirmation failed and was retried')
  t.same(await moves(clients.store, linkId), [], 'nothing recorded while Dojo cannot confirm')
  proxy.setDown(false)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid once Dojo is back')
  await until(async () => (await clients.db.selectFrom('wi_confirmations').select('key').where('payment_intent_id', '=', intentId).execute()).length === 0, 5000, 'queue empty')
  t.same(await moves(clients.store, linkId), ['paid'])
})

t.test('a crash between the publish and the confirmation should be resumed by the next process', async (t) => {
  const port = await freePort()
  const proxy = await startSwitchableProxy(t, sandbox.url)
  const merchant = await addMerchant(clients, env, proxy.url)
  const dojo = dojoClient(t, sandbox.url, merchant.secretKey)
  const processEnv = { ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info', SUBSCRIPTION_SYNC_ON_START: 'true', CONFIRM_LEASE_MS: '3000' }
  const first = spawnService(t, INGEST_ENTRY, processEnv)
  await first.waitFor(/webhook subscriptions checked/)
  const { linkId, intentId } = await newLink(clients, dojo, merchant.id)
  await until(async () => (await clients.db.selectFrom('wi_links').select('link_id').where('link_id', '=', linkId).execute()).length === 1, 20_000, 'link known')
  proxy.setDown(true)
  await sandbox.pay(intentId)
  await until(async () => (await linkEvents(clients.store, linkId, 'payment-link.webhook-received')).length === 1, 20_000, 'delivery recorded')
  await until(async () => await confirmationFailedTwice(intentId), 20_000, 'confirmation attempted')
  t.equal(await first.kill('SIGKILL'), 'SIGKILL')
  t.same(await moves(clients.store, linkId), [])
  proxy.setDown(false)
  const second = spawnService(t, INGEST_ENTRY, processEnv)
  await second.waitFor(/webhook subscriptions checked/)
  await until(async () => (await moves(clients.store, linkId)).includes('paid'), 20_000, 'paid after the restart')
  // The resumed confirmation and the start-up reconciliation may race: either records it, once.
  await until(async () => (await clients.db.selectFrom('wi_confirmations').select('key').where('payment_intent_id', '=', intentId).execute()).length === 0, 10_000, 'resumed confirmation finished')
  t.same(await moves(clients.store, linkId), ['paid'])
  await second.kill('SIGTERM')
})
