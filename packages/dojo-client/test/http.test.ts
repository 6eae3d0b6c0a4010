import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Value } from '@sinclair/typebox/value'
import t from 'tap'
import { freePort, onTeardown, spawnService, type TestContext } from '@paylinks/test-kit'
import { createDojoClient, DojoErrorCodes, PaymentIntentSchema, type DojoClient, type DojoClientOptions } from '../src/index.js'
import { intentBody, rejection, sandboxClient, sandboxKey, startProxy, startSandbox, startScriptedServer, type Sandbox } from './helpers.js'

// The default transport: undici's request() on a keep-alive pool per client (no `fetch` option).
const KEY = 'sk_sandbox_transporttestkey'
const ID = 'pi_sandbox_BBBBBBBBBBBBBBBBBBBBBB'
const NEW_INTENT = { amount: { value: 1000, currencyCode: 'GBP' as const }, reference: 'order-1' }
const CERT_FILE = fileURLToPath(new URL('fixtures/localhost-cert.pem', import.meta.url))
// A throwaway self-signed certificate for localhost, for these tests only.
const TLS = { cert: readFileSync(CERT_FILE, 'utf8'), key: readFileSync(new URL('fixtures/localhost-key.pem', import.meta.url), 'utf8') }
const HTTPS_CALLS = fileURLToPath(new URL('fixtures/https-calls.ts', import.meta.url))

let sandbox: Sandbox
t.before(async () => { sandbox = await startSandbox(t) })

function clientFor (t: TestContext, server: { url: string }, options: Partial<DojoClientOptions> = {}): DojoClient {
  const client = createDojoClient({ baseUrl: server.url, secretKey: KEY, timeoutMs: 300, retries: 2, retryDelayMs: 1, ...options })
  onTeardown(t, () => client.close())
  return client
}

t.test('a client should keep one connection alive across calls and close it at close()', async (t) => {
  const proxy = await startProxy(t, sandbox.url)
  const client = sandboxClient(t, sandbox, { baseUrl: proxy.url })
  const created = await client.createPaymentIntent({ ...NEW_INTENT, reference: 'keep-alive' })
  for (let i = 0; i < 4; i++) {
    // undici frees a socket one event-loop turn after its answer (servers that close it anyway
    // show up by then); a call in that same turn gets a second connection.
    await new Promise((resolve) => setTimeout(resolve, 10))
    t.equal((await client.getPaymentIntent(created.id)).id, created.id)
  }
  t.equal(proxy.accepted(), 1, 'five calls, one connection')
  t.equal(proxy.open(), 1, 'still open between calls')
  await client.close()
  // Left idle, the pool would keep it for its keep-alive timeout (4 s).
  await proxy.drained(1000)
  t.equal((await rejection(client.getPaymentIntent(created.id))).code, DojoErrorCodes.closed)
})

t.test('an https baseUrl should be spoken to over TLS with the certificate verified', async (t) => {
  const proxy = await startProxy(t, sandbox.url, TLS)
  t.match(proxy.url, /^https:\/\/localhost:/)

  const untrusted = await rejection(clientFor(t, proxy, { secretKey: sandboxKey(), timeoutMs: 5000, retries: 0 }).getPaymentIntent(ID))
  t.equal(untrusted.code, DojoErrorCodes.unavailable)
  t.match(untrusted.message, /SELF_SIGNED/, 'a certificate nobody vouches for is refused')

  // Node reads extra CAs only at start-up: trust the test certificate in a child process.
  const child = spawnService(t, HTTPS_CALLS, { NODE_EXTRA_CA_CERTS: CERT_FILE, DOJO_BASE_URL: proxy.url, DOJO_SECRET_KEY: sandboxKey() })
  t.equal(await child.exited, 0, child.output())
  const result = JSON.parse(child.output().trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>
  t.match(result, { created: /^pi_sandbox_/, reference: 'https-order' }, child.output())
  t.equal(result.read, result.created)
})

// A broken deadline would leave these calls trickling forever: fail them in seconds instead.
t.test('timeoutMs should bound the whole attempt, the body included', { timeout: 10_000 }, async (t) => {
  const server = await startScriptedServer(t, () => 'trickle')
  const started = Date.now()
  const error = await rejection(clientFor(t, server, { timeoutMs: 200, retries: 1 }).getPaymentIntent(ID))
  t.equal(error.code, DojoErrorCodes.timeout)
  t.equal(error.message, `Dojo GET /payment-intents/${ID}: no answer within 200 ms (attempt 2)`)
  t.equal(server.requests.length, 2)
  t.ok(Date.now() - started < 2000, 'bytes arriving do not extend the attempt')
})

t.test('close should abort a call whose body is still arriving', { timeout: 10_000 }, async (t) => {
  const server = await startScriptedServer(t, () => 'trickle')
  const client = clientFor(t, server, { timeoutMs: 30_000 })
  const pending = rejection(client.getPaymentIntent(ID))
  while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 50))
  await client.close()
  const error = await pending
  t.equal(error.code, DojoErrorCodes.closed)
  t.equal(error.message, `Dojo GET /payment-intents/${ID}: the client is closed`)
  t.equal(server.requests.length, 1)
})

t.test('a refused connection should count as unsent and be retried', async (t) => {
  const closedPort = await freePort()
  const error = await rejection(clientFor(t, { url: `http://127.0.0.1:${closedPort}` }).createPaymentIntent(NEW_INTENT))
  t.equal(error.code, DojoErrorCodes.unavailable)
  t.equal(error.outcomeUnknown, false, 'nothing reached Dojo')
  t.equal(error.details.unsent, true)
  t.equal(error.attempts, 3, 'retried although a create')
  t.match(error.message, /ECONNREFUSED/)
})

t.test('a connection dropped after sending should not count as unsent', async (t) => {
  const server = await startScriptedServer(t, () => 'destroy')
  const client = clientFor(t, server)
  const create = await rejection(client.createPaymentIntent(NEW_INTENT))
  t.equal(create.code, DojoErrorCodes.unavailable)
  t.equal(create.outcomeUnknown, true, 'Dojo may have read it')
  t.equal(create.details.unsent, false)
  t.equal(server.count('POST', '/payment-intents'), 1, 'a create is not sent twice')
  const read = await rejection(client.getPaymentIntent(ID))
  t.equal(read.code, DojoErrorCodes.unavailable)
  t.equal(server.count('GET', `/payment-intents/${ID}`), 3, 'a read is retried')
})

t.test('a redirect should be followed, as fetch did', async (t) => {
  const server = await startScriptedServer(t, (req) => req.url === '/payment-intents/pi_old'
    ? { status: 307, headers: { location: `/payment-intents/${ID}` } }
    : { status: 200, body: intentBody(ID) })
  const intent = await clientFor(t, server).getPaymentIntent('pi_old')
  t.equal(intent.id, ID)
  t.equal(server.count('GET', `/payment-intents/${ID}`), 1)
  t.equal(server.requests.at(-1)?.headers.authorization, `Basic ${KEY}`, 'same origin: the key goes along')
})

t.test('a compressed answer should be decoded although none was asked for', async (t) => {
  const server = await startScriptedServer(t, () => ({ status: 200, body: intentBody(ID), gzip: true }))
  const intent = await clientFor(t, server).getPaymentIntent(ID)
  t.equal(intent.id, ID)
  t.equal(server.requests[0]?.headers['accept-encoding'], 'identity')
})

t.test('a body that breaks the contract should be reported with the first five problems, as Value.Errors lists them', async (t) => {
  const body = { id: 7, status: 'Paid', amount: { value: 1.5 }, createdAt: null }
  const server = await startScriptedServer(t, () => ({ status: 200, body }))
  const error = await rejection(clientFor(t, server).getPaymentIntent(ID))
  const expected = [...Value.Errors(PaymentIntentSchema, body)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`)
  t.equal(expected.length, 5, 'the body has at least five problems')
  t.same(error.details.problems, expected)
  t.equal(error.message, `Dojo GET /payment-intents/${ID} answered 200 with an unexpected body: ${expected.join('; ')}`)
})
