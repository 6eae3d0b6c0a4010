import { inspect } from 'node:util'
import t from 'tap'
import { createDojoClient, DojoErrorCodes, type DojoClient } from '../src/index.js'
import { rejection, type Sandbox, sandboxClient, sandboxKey, startSandbox } from './helpers.js'

// One emulator process for the file; each test gets its own account (a fresh sandbox key).
let sandbox: Sandbox
t.before(async () => { sandbox = await startSandbox(t) })

let n = 0
function order (client: DojoClient, extra: Record<string, unknown> = {}) {
  n++
  return client.createPaymentIntent({ amount: { value: 1250, currencyCode: 'GBP' }, reference: `order-${n}`, paymentSource: 'payment-links', ...extra })
}

t.test('createPaymentIntent should create an intent that getPaymentIntent reads back', async (t) => {
  const client = sandboxClient(t, sandbox)
  t.equal(client.environment, 'sandbox')
  const created = await order(client, { description: 'two mugs', metadata: { orderId: 'o-1' }, config: { title: 'Mugs', redirectUrl: 'https://shop.example/paid' } })
  t.match(created.id, /^pi_sandbox_[A-Za-z0-9_-]{22}$/)
  t.equal(created.status, 'Created')
  t.same(created.amount, { value: 1250, currencyCode: 'GBP' })
  t.equal(created.paymentSource, 'payment-links')
  t.match(created.paymentLink, new RegExp(`/checkout/${created.id}$`))
  const read = await client.getPaymentIntent(created.id)
  t.equal(read.reference, created.reference)
  t.same(read.metadata, { orderId: 'o-1' })
})

t.test('cancelPaymentIntent should cancel a Created intent, hidden unless returnCanceled', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client)
  const canceled = await client.cancelPaymentIntent(created.id)
  t.equal(canceled.status, 'Canceled')
  const hidden = await rejection(client.getPaymentIntent(created.id))
  t.equal(hidden.code, DojoErrorCodes.notFound)
  t.equal(hidden.status, 404)
  const shown = await client.getPaymentIntent(created.id, { returnCanceled: true })
  t.equal(shown.status, 'Canceled')
})

t.test('capturePaymentIntent should capture a Manual intent once paid, partly then fully', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client, { captureMode: 'Manual' })
  const paid = await sandbox.pay(created.id)
  t.equal(paid.body.outcome, 'Authorized')
  t.equal((await client.getPaymentIntent(created.id)).status, 'Authorized')
  const first = await client.capturePaymentIntent(created.id, { amount: 250 })
  t.match(first.captureId, /^cp_/)
  await client.capturePaymentIntent(created.id, { amount: 1000 })
  const captured = await client.getPaymentIntent(created.id)
  t.equal(captured.status, 'Captured')
  t.same(captured.captures?.map((c) => c.amount), [250, 1000])
})

t.test('refundPaymentIntent should replay the first refund for the same idempotency key', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client)
  await sandbox.pay(created.id)
  const first = await client.refundPaymentIntent(created.id, { amount: 500, refundReason: 'one mug broke', idempotencyKey: 'refund-1' })
  t.match(first.refundId, /^rfnd_/)
  const replay = await client.refundPaymentIntent(created.id, { amount: 500, refundReason: 'one mug broke', idempotencyKey: 'refund-1' })
  t.equal(replay.refundId, first.refundId)
  const intent = await client.getPaymentIntent(created.id)
  t.equal(intent.refundedAmount, 500)
  t.equal(intent.status, 'Captured')
  const second = await client.refundPaymentIntent(created.id, { amount: 750, idempotencyKey: 'refund-2' })
  t.not(second.refundId, first.refundId)
  t.equal((await client.getPaymentIntent(created.id)).status, 'Refunded')
})

t.test('reversePaymentIntent should void an authorised intent', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client, { captureMode: 'Manual' })
  await sandbox.pay(created.id)
  const reversal = await client.reversePaymentIntent(created.id)
  t.match(reversal.reversalId, /^rvs_/)
  t.equal((await client.getPaymentIntent(created.id)).status, 'Reversed')
})

t.test('searchPaymentIntents should page through every intent with the after cursor', async (t) => {
  const client = sandboxClient(t, sandbox)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await order(client)).id)
  const seen: string[] = []
  let after: string | undefined
  let pages = 0
  do {
    const page = await client.searchPaymentIntents({ cursor: { limit: 2, ...(after === undefined ? {} : { after }) } })
    pages++
    t.ok(page.data.length <= 2)
    seen.push(...page.data.map((i) => i.id))
    after = page.after ?? undefined
  } while (after !== undefined && pages < 10)
  t.equal(pages, 3)
  t.same(seen, [...ids].reverse(), 'newest first, each once')
  const captured = await client.searchPaymentIntents({ statuses: ['Captured'] })
  t.same(captured.data, [])
})

t.test('findPaymentIntentsByReference should find the intent a lost create made', async (t) => {
  const client = sandboxClient(t, sandbox)
  const since = new Date(Date.now() - 1000)
  await order(client)
  const target = await client.createPaymentIntent({ amount: { value: 99, currencyCode: 'EUR' }, reference: 'lost-create-1' })
  await order(client)
  const found = await client.findPaymentIntentsByReference('lost-create-1', { createdFrom: since })
  t.same(found.map((i) => i.id), [target.id])
  t.same(await client.findPaymentIntentsByReference('never-made', { createdFrom: since }), [])
})

t.test('refreshClientSessionSecret should issue a new client session secret', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client)
  const before = (await client.getPaymentIntent(created.id)).clientSessionSecret
  const refreshed = await client.refreshClientSessionSecret(created.id)
  t.type(refreshed.clientSessionSecret, 'string')
  t.not(refreshed.clientSessionSecret, before)
})

t.test('a 400 should become DOJO_VALIDATION with the field errors and trace id', async (t) => {
  const client = sandboxClient(t, sandbox)
  const error = await rejection(client.createWebhookSubscription({ events: ['payment_intent.no_such_event'], url: 'https://example.com/hook' }))
  t.equal(error.code, DojoErrorCodes.validation)
  t.equal(error.status, 400)
  t.ok(Array.isArray(error.errors.Events), 'PascalCase field key from Dojo')
  t.match(error.traceId, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  t.match(error.message, /Events/)
  t.equal(error.attempts, 1, 'a 4xx is not retried')
})

t.test('an invalid request should be refused before it is sent', async (t) => {
  const client = sandboxClient(t, sandbox)
  const fractional = await rejection(client.createPaymentIntent({ amount: { value: 10.5, currencyCode: 'GBP' }, reference: 'x' }))
  t.equal(fractional.code, DojoErrorCodes.invalidInput)
  t.match(fractional.message, /amount\/value/)
  const longReference = await rejection(client.createPaymentIntent({ amount: { value: 100, currencyCode: 'GBP' }, reference: 'r'.repeat(61) }))
  t.equal(longReference.code, DojoErrorCodes.invalidInput)
  const noKey = await rejection(client.refundPaymentIntent('pi_sandbox_x', { amount: 1, idempotencyKey: '' }))
  t.equal(noKey.code, DojoErrorCodes.invalidInput)
})

t.test('a wrong key should be DOJO_UNAUTHORIZED and never appear in the error', async (t) => {
  // The emulator takes any well-formed sk_sandbox_ key as an account; this one is malformed.
  const wrongKey = `${sandboxKey()}+not/a=key`
  const client = createDojoClient({ baseUrl: sandbox.url, secretKey: wrongKey, retryDelayMs: 1 })
  t.teardown(() => client.close())
  const error = await rejection(client.getPaymentIntent('pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA'))
  t.equal(error.code, DojoErrorCodes.unauthorized)
  t.equal(error.status, 401)
  t.equal(error.attempts, 1)
  const everything = `${error.message} ${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`
  t.notOk(everything.includes(wrongKey), 'the key is not in the message, details or cause')
  t.notOk(everything.includes('sk_sandbox_'), 'nor any part of it')
})

t.test('another account should not see an intent', async (t) => {
  const mine = sandboxClient(t, sandbox)
  const created = await order(mine)
  const other = sandboxClient(t, sandbox)
  t.equal((await rejection(other.getPaymentIntent(created.id))).code, DojoErrorCodes.notFound)
})

t.test('an unknown id should be DOJO_NOT_FOUND and a forbidden move DOJO_CONFLICT', async (t) => {
  const client = sandboxClient(t, sandbox)
  const missing = await rejection(client.getPaymentIntent('pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA'))
  t.equal(missing.code, DojoErrorCodes.notFound)
  const created = await order(client)
  await sandbox.pay(created.id)
  const conflict = await rejection(client.cancelPaymentIntent(created.id))
  t.equal(conflict.code, DojoErrorCodes.conflict)
  t.equal(conflict.status, 409)
  t.equal(conflict.attempts, 1)
  t.type(conflict.traceId, 'string')
  const manual = await rejection(client.capturePaymentIntent(created.id, { amount: 100 }))
  t.equal(manual.code, DojoErrorCodes.conflict, 'an Auto intent cannot be captured')
})

t.test('getRefund should read a refund back by its id, and sendReceipt should ask for a receipt of a paid intent', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client)
  await sandbox.pay(created.id)
  const refund = await client.refundPaymentIntent(created.id, { amount: 250, refundReason: 'chipped', idempotencyKey: `refund-${created.id}` })
  const read = await client.getRefund(refund.refundId)
  t.equal(read.refundId, refund.refundId)
  t.equal(read.paymentIntentId, created.id)
  t.equal((await rejection(client.getRefund('rfnd_unknown'))).code, DojoErrorCodes.notFound)
  await client.sendReceipt(created.id, { emails: ['customer@example.com'] })
  t.equal((await rejection(client.sendReceipt(created.id, { emails: [] }))).code, DojoErrorCodes.invalidInput, 'at least one address')
})

t.test('createPaymentIntent should send the spec\'s further fields: autoExpireIn and its action, actionLink, orderDetails', async (t) => {
  const client = sandboxClient(t, sandbox)
  const created = await order(client, {
    captureMode: 'Manual',
    autoExpireIn: '00:05:00',
    autoExpireAction: 'Capture',
    actionLink: { url: 'https://shop.example/invoice.pdf', label: 'Invoice', action: 'DownloadFile' },
    orderDetails: { id: 'o-9' },
    isNotOnlineCheckout: false
  })
  t.equal(created.captureMode, 'Manual')
  t.equal(created.autoExpireIn, '00:05:00')
  t.equal(created.autoExpireAction, 'Capture')
  t.match(created.actionLink, { label: 'Invoice', action: 'DownloadFile' })
})
