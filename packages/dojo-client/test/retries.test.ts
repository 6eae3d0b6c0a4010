import t from 'tap'
import { freePort, onTeardown, type TestContext } from '@paylinks/test-kit'
import { createDojoClient, DojoErrorCodes, type DojoClient, type DojoClientOptions } from '../src/index.js'
import { intentBody, rejection, startScriptedServer, type Step } from './helpers.js'

const KEY = 'sk_sandbox_retrytestkey'
const ID = 'pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA'
const NEW_INTENT = { amount: { value: 1000, currencyCode: 'GBP' as const }, reference: 'order-1' }

function clientFor (t: TestContext, server: { url: string }, options: Partial<DojoClientOptions> = {}): DojoClient {
  const client = createDojoClient({ baseUrl: server.url, secretKey: KEY, timeoutMs: 300, retries: 3, retryDelayMs: 1, ...options })
  onTeardown(t, () => client.close())
  return client
}

const serverError: Step = { status: 500, body: { title: 'Internal Server Error', status: 500 } }

t.test('a read should be retried past 500s and a hang, then succeed', async (t) => {
  const server = await startScriptedServer(t, (_req, n) => [serverError, serverError, 'hang' as const][n] ?? { status: 200, body: intentBody(ID) })
  const intent = await clientFor(t, server).getPaymentIntent(ID)
  t.equal(intent.id, ID)
  t.equal(server.count('GET', `/payment-intents/${ID}`), 4, 'two 500s, one timeout, one success')
  const sent = server.requests[0]!
  t.equal(sent.headers.authorization, `Basic ${KEY}`, 'the raw key, not base64')
  t.equal(sent.headers.version, '2026-02-27')
})

t.test('retries should stop at the bound with DOJO_UNAVAILABLE or DOJO_TIMEOUT', async (t) => {
  const failing = await startScriptedServer(t, () => ({ status: 503, body: { title: 'Service Unavailable', status: 503, traceId: '00-abc-def-01' } }))
  const unavailable = await rejection(clientFor(t, failing, { retries: 2 }).getPaymentIntent(ID))
  t.equal(unavailable.code, DojoErrorCodes.unavailable)
  t.equal(unavailable.status, 503)
  t.equal(unavailable.traceId, '00-abc-def-01')
  t.equal(unavailable.attempts, 3)
  t.equal(failing.requests.length, 3)

  const hanging = await startScriptedServer(t, () => 'hang')
  const timeout = await rejection(clientFor(t, hanging, { retries: 1, timeoutMs: 100 }).searchPaymentIntents())
  t.equal(timeout.code, DojoErrorCodes.timeout)
  t.equal(hanging.requests.length, 2)
})

t.test('a 4xx should not be retried', async (t) => {
  const server = await startScriptedServer(t, (req) => req.method === 'GET'
    ? { status: 404, body: { title: 'Not Found', status: 404, detail: 'no such intent', traceId: '00-1-2-01' } }
    : { status: 400, body: { title: 'One or more validation errors occurred.', status: 400, errors: { Amount: ['bad'] } } })
  const client = clientFor(t, server)
  const missing = await rejection(client.getPaymentIntent(ID))
  t.equal(missing.code, DojoErrorCodes.notFound)
  t.equal(missing.details.detail, 'no such intent')
  const invalid = await rejection(client.refundPaymentIntent(ID, { amount: 5, idempotencyKey: 'r-1' }))
  t.equal(invalid.code, DojoErrorCodes.validation)
  t.same(invalid.errors, { Amount: ['bad'] })
  t.equal(server.requests.length, 2, 'one attempt each')
})

t.test('createPaymentIntent should not be retried once Dojo may have received it', async (t) => {
  const server = await startScriptedServer(t, () => serverError)
  const client = clientFor(t, server)
  const error = await rejection(client.createPaymentIntent(NEW_INTENT))
  t.equal(error.code, DojoErrorCodes.unavailable)
  t.equal(error.outcomeUnknown, true, 'the caller must look it up before trying again')
  t.equal(server.requests.length, 1)

  const hanging = await startScriptedServer(t, () => 'hang')
  const timedOut = await rejection(clientFor(t, hanging, { timeoutMs: 100 }).capturePaymentIntent(ID, { amount: 100 }))
  t.equal(timedOut.code, DojoErrorCodes.timeout)
  t.equal(timedOut.outcomeUnknown, true)
  t.equal(hanging.requests.length, 1, 'captures have no idempotency key either')
})

t.test('createPaymentIntent should be retried when the request was never sent or was rate limited', async (t) => {
  const closedPort = await freePort()
  let calls = 0
  const refused = clientFor(t, { url: `http://127.0.0.1:${closedPort}` }, {
    retries: 2,
    fetch: async (url, init) => { calls++; return await fetch(url, init) }
  })
  const error = await rejection(refused.createPaymentIntent(NEW_INTENT))
  t.equal(error.code, DojoErrorCodes.unavailable)
  t.equal(error.outcomeUnknown, false, 'nothing reached Dojo')
  t.match(error.message, /ECONNREFUSED/)
  t.equal(calls, 3)

  const limited = await startScriptedServer(t, (_req, n) => n === 0 ? { status: 429, body: { title: 'Too Many Requests', status: 429 } } : { status: 200, body: intentBody(ID) })
  const created = await clientFor(t, limited).createPaymentIntent(NEW_INTENT)
  t.equal(created.id, ID)
  t.equal(limited.requests.length, 2)
  t.same(JSON.parse(limited.requests[1]!.body), NEW_INTENT)
})

t.test('refundPaymentIntent should be retried with the same idempotency key', async (t) => {
  const server = await startScriptedServer(t, (_req, n) => n < 2 ? serverError : { status: 200, body: { paymentIntentId: ID, refundId: 'rfnd_1' } })
  const refund = await clientFor(t, server).refundPaymentIntent(ID, { amount: 300, idempotencyKey: 'refund-42' })
  t.equal(refund.refundId, 'rfnd_1')
  t.same(server.requests.map((r) => r.headers.idempotencykey), ['refund-42', 'refund-42', 'refund-42'])
  t.same(JSON.parse(server.requests[0]!.body), { amount: 300 }, 'the key travels as a header, not in the body')
})

t.test('cancelPaymentIntent should settle a retry that finds its own earlier cancel', async (t) => {
  const path = `/payment-intents/${ID}`
  const server = await startScriptedServer(t, (req, n) => {
    if (req.method === 'DELETE') return n === 0 ? 'hang' : { status: 404, body: { title: 'Not Found', status: 404 } }
    return { status: 200, body: intentBody(ID, 'Canceled') }
  })
  const canceled = await clientFor(t, server, { timeoutMs: 100 }).cancelPaymentIntent(ID)
  t.equal(canceled.status, 'Canceled')
  t.equal(server.count('DELETE', path), 2)
  t.equal(server.count('GET', `${path}?returnCanceled=true`), 1)
})

t.test('reversePaymentIntent should settle a retry that finds the intent already reversed', async (t) => {
  const server = await startScriptedServer(t, (req, n) => {
    if (req.method === 'POST') return n === 0 ? serverError : { status: 409, body: { title: 'Conflict', status: 409 } }
    return { status: 200, body: intentBody(ID, 'Reversed') }
  })
  const reversal = await clientFor(t, server).reversePaymentIntent(ID)
  t.equal(reversal.reversalId, null)
  t.equal(server.count('POST', `/payment-intents/${ID}/reversal`), 2)
})

t.test('a response that breaks the contract should be DOJO_RESPONSE, extra fields should pass', async (t) => {
  const server = await startScriptedServer(t, (req) => req.url.includes('bad')
    ? { status: 200, body: { id: 'pi_x', status: 'Paid', amount: { value: 1.5, currencyCode: 'GBP' } } }
    : { status: 200, body: intentBody(ID) })
  const client = clientFor(t, server)
  const tolerant = await client.getPaymentIntent(ID)
  t.same((tolerant as Record<string, unknown>).somethingDojoAddedLater, { x: 1 })
  const error = await rejection(client.getPaymentIntent('pi_bad'))
  t.equal(error.code, DojoErrorCodes.response)
  t.match(error.message, /\/status/)
  t.equal(server.count('GET', '/payment-intents/pi_bad'), 1)
})

t.test('close should abort a call in flight and refuse new ones', async (t) => {
  const server = await startScriptedServer(t, () => 'hang')
  const client = clientFor(t, server, { timeoutMs: 30_000 })
  const pending = rejection(client.getPaymentIntent(ID))
  while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await client.close()
  t.equal((await pending).code, DojoErrorCodes.closed)
  t.equal((await rejection(client.getPaymentIntent(ID))).code, DojoErrorCodes.closed)
  t.equal(server.requests.length, 1)
})
