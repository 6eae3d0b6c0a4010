import { createServer } from 'node:http'
import t from 'tap'
import { onTeardown } from '@paylinks/test-kit'
import { DojoErrorCodes, verifyWebhookSignature } from '../src/index.js'
import { rejection, type Sandbox, sandboxClient, startSandbox } from './helpers.js'

let sandbox: Sandbox
t.before(async () => { sandbox = await startSandbox(t) })

t.test('listWebhookEvents should return the event catalogue', async (t) => {
  const client = sandboxClient(t, sandbox)
  const catalogue = await client.listWebhookEvents()
  const events = catalogue.flatMap((c) => c.events)
  t.ok(events.includes('payment_intent.created'))
  t.ok(events.includes('payment_intent.status_updated'))
})

t.test('webhook subscriptions should be created, listed, read, updated and deleted', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await client.createWebhookSubscription({ events: ['payment_intent.status_updated'], url: 'https://shop.example/dojo', description: 'status' })
  t.match(created.id, /^ws_/)
  t.equal(created.secrets.length, 1)
  t.equal(created.secrets[0]?.isActive, true)
  t.match(created.secrets[0]?.id, /^sc_/)
  t.same((await client.listWebhookSubscriptions()).map((s) => s.id), [created.id])
  t.equal((await client.getWebhookSubscription(created.id)).url, 'https://shop.example/dojo')

  const updated = await client.updateWebhookSubscription(created.id, { events: ['payment_intent.created', 'payment_intent.status_updated'], description: 'both' })
  t.same(updated.events, ['payment_intent.created', 'payment_intent.status_updated'])
  t.equal(updated.description, 'both')
  t.equal(updated.url, 'https://shop.example/dojo')

  await client.deleteWebhookSubscription(created.id)
  t.same(await client.listWebhookSubscriptions(), [])
  t.equal((await rejection(client.getWebhookSubscription(created.id))).code, DojoErrorCodes.notFound)
  t.equal((await rejection(client.deleteWebhookSubscription(created.id))).code, DojoErrorCodes.notFound, 'a first attempt answered 404 is an error')
})

t.test('webhook secrets should be listed, added, activated and deleted', async (t) => {
  const client = sandboxClient(t, sandbox)
  const sub = await client.createWebhookSubscription({ events: ['payment_intent.created'], url: 'https://shop.example/dojo' })
  const original = sub.secrets[0]!
  const afterAdd = await client.createWebhookSecret(sub.id)
  t.equal(afterAdd.secrets.length, 2)
  const added = afterAdd.secrets.find((s) => s.id !== original.id)!
  t.equal(added.isActive, false, 'a new secret starts inactive')

  const conflict = await rejection(client.deleteWebhookSecret(sub.id, original.id))
  t.equal(conflict.code, DojoErrorCodes.conflict, 'the active secret cannot be deleted')

  await client.activateWebhookSecret(sub.id, added.id)
  const listed = await client.listWebhookSecrets(sub.id)
  t.same(listed.secrets.filter((s) => s.isActive).map((s) => s.id), [added.id])

  await client.deleteWebhookSecret(sub.id, original.id)
  t.same((await client.listWebhookSecrets(sub.id)).secrets.map((s) => s.id), [added.id])
  t.equal((await rejection(client.listWebhookSecrets('ws_AAAAAAAAAAAAAAAAAAAAAA'))).code, DojoErrorCodes.notFound)
})

t.test('verifyWebhookSignature should accept a delivery signed by the emulator with the active secret', async (t) => {
  const client = sandboxClient(t, sandbox)
  const received: Array<{ body: Buffer, signature: string | undefined }> = []
  let notify: () => void = () => {}
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks), signature: req.headers['dojo-signature'] as string | undefined })
      res.writeHead(204).end()
      notify()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => { receiver.closeAllConnections(); await new Promise((resolve) => receiver.close(resolve)) })
  const port = (receiver.address() as { port: number }).port

  const sub = await client.createWebhookSubscription({ events: ['payment_intent.created'], url: `http://127.0.0.1:${port}/dojo` })
  const arrived = new Promise<void>((resolve) => { notify = resolve })
  const intent = await client.createPaymentIntent({ amount: { value: 500, currencyCode: 'GBP' }, reference: 'hook-1' })
  await arrived
  const delivery = received[0]!
  const active = sub.secrets.filter((s) => s.isActive).map((s) => s.value)
  t.ok(verifyWebhookSignature(delivery.body, delivery.signature, active))
  t.notOk(verifyWebhookSignature(delivery.body, delivery.signature, ['some-other-secret']))
  const event = JSON.parse(delivery.body.toString()) as { event: string, data: { paymentIntentId: string } }
  t.equal(event.event, 'payment_intent.created')
  t.equal(event.data.paymentIntentId, intent.id)
})
