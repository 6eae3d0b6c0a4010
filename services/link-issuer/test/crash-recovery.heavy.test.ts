import { fileURLToPath } from 'node:url'
import t from 'tap'
import { paymentLinkStream } from '@paylinks/contracts'
import { freePort, spawnService, type ServiceProcess, type TestContext } from '@paylinks/test-kit'
import { dojoReferenceFor, linkIdFor } from '../src/link.js'
import { auth, createTestMerchant, issuerEnv, openStore, startFaultyProxy, startRecorder, startSandbox, until } from './helpers.js'

// link-issuer as a real process is killed (SIGKILL) while its Dojo creates are in flight, and a
// new one is started. The time from the kill until every in-flight link is issued is printed as
// the figure "in-flight links issued after a link-issuer SIGKILL" (README); it is not asserted.

const ENTRY = fileURLToPath(new URL('../src/server.ts', import.meta.url))
const IN_FLIGHT = 8

const sandbox = await startSandbox(t)
// Creates wait up to 30 s for Dojo's answer, so they are still in flight when the process dies;
// the production defaults of the lease (10 s) and the takeover sweep (1 s).
const env = await issuerEnv(t, { DOJO_TIMEOUT_MS: '30000', LOG_LEVEL: 'info', LOG_FORMAT: 'json' })
delete env.RECOVERY_INTERVAL_MS
await startRecorder(t, env)
const store = await openStore(t, env)

async function startIssuer (t: TestContext): Promise<{ url: string, process: ServiceProcess }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const service = spawnService(t, ENTRY, { ...env, PORT: String(port), HOST: '127.0.0.1' })
  await until(async () => {
    if (service.child.exitCode !== null) throw new Error(`link-issuer exited: ${service.output().slice(-2000)}`)
    return await fetch(`${url}/readyz`).then((r) => r.ok, () => false)
  }, { timeoutMs: 60_000, intervalMs: 50, what: 'link-issuer ready' })
  return { url, process: service }
}

const post = async (url: string, apiKey: string, key: string, reference: string): Promise<Response> =>
  await fetch(`${url}/v1/payment-links`, {
    method: 'POST',
    headers: { ...auth(apiKey), 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ reference, amount: { value: 990, currencyCode: 'GBP' } })
  })

t.test('links in flight when link-issuer is killed should be issued by its successor within seconds, each with one intent', async (t) => {
  // Dojo creates the intents at once but its answers never reach the first process.
  const proxy = await startFaultyProxy(t, sandbox.url, [], 120_000)
  proxy.setDefault('slow')
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const first = await startIssuer(t)
  const references = Array.from({ length: IN_FLIGHT }, (_, i) => `crash-${i}`)
  const requests = references.map(async (reference) => await post(first.url, m.apiKey, `key-${reference}`, reference).catch((error: unknown) => error))
  await until(async () => (await m.dojo.searchPaymentIntents({})).data.length === IN_FLIGHT, 20_000, 'every create at Dojo')

  await first.process.kill('SIGKILL')
  const killedAt = performance.now()
  proxy.setDefault('pass')
  for (const r of await Promise.all(requests)) t.ok(r instanceof Error, 'the first process never answered')

  const second = await startIssuer(t)
  const readyAt = performance.now()
  const linkIds = references.map((r) => linkIdFor(m.id, r))
  // The partners retry with the same keys: each gets its link, or 202 to poll, never a hang.
  const retries = await Promise.all(references.map(async (reference) => await post(second.url, m.apiKey, `key-${reference}`, reference)))
  for (const [i, res] of retries.entries()) {
    const link = await res.json() as { id: string, status: string }
    t.ok(res.status === 201 || res.status === 202, `retry ${i}: ${res.status}`)
    t.equal(link.id, linkIds[i])
    if (res.status === 202) {
      t.equal(link.status, 'requested')
      t.equal(res.headers.get('location'), `/v1/payment-links/${link.id}`)
      t.ok(res.headers.get('retry-after'))
    } else t.equal(link.status, 'issued')
  }
  await until(async () => {
    for (const id of linkIds) if (!(await store.readStream(paymentLinkStream(id))).some((e) => e.type === 'payment-link.issued')) return false
    return true
  }, 60_000, 'every in-flight link issued')
  const issuedAt = performance.now()
  t.comment(`in-flight links issued after a link-issuer SIGKILL: ${Math.round(issuedAt - killedAt)} ms after the kill, ${Math.round(issuedAt - readyAt)} ms after the new process was ready (${IN_FLIGHT} links)`)

  for (const [i, id] of linkIds.entries()) {
    const events = await store.readStream(paymentLinkStream(id))
    t.same(events.map((e) => e.type), ['payment-link.requested', 'payment-link.issued'], `${id}: one outcome`)
    const intents = await m.dojo.findPaymentIntentsByReference(dojoReferenceFor(references[i]!, id), { createdFrom: new Date(Date.now() - 600_000) })
    t.equal(intents.length, 1, `${id}: one intent at Dojo`)
    t.equal((events[1]!.data as { paymentIntentId: string }).paymentIntentId, intents[0]!.id)
  }
  t.equal(proxy.creates(), IN_FLIGHT, 'no create was sent again')
  t.equal((await m.dojo.searchPaymentIntents({})).data.length, IN_FLIGHT)
})

t.test('links in flight when one of two link-issuer replicas is killed should be taken over by the other within seconds', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, [], 120_000)
  proxy.setDefault('slow')
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const [doomed, standing] = await Promise.all([startIssuer(t), startIssuer(t)])
  const references = Array.from({ length: IN_FLIGHT }, (_, i) => `replica-${i}`)
  const requests = references.map(async (reference) => await post(doomed.url, m.apiKey, `key-${reference}`, reference).catch((error: unknown) => error))
  await until(async () => (await m.dojo.searchPaymentIntents({})).data.length === IN_FLIGHT, 20_000, 'every create at Dojo')

  await doomed.process.kill('SIGKILL')
  const killedAt = performance.now()
  proxy.setDefault('pass')
  await Promise.all(requests)
  const linkIds = references.map((r) => linkIdFor(m.id, r))
  // Nobody retries yet: the other replica's takeover sweep finds the leases the dead one left.
  await until(async () => {
    for (const id of linkIds) if (!(await store.readStream(paymentLinkStream(id))).some((e) => e.type === 'payment-link.issued')) return false
    return true
  }, { timeoutMs: 60_000, intervalMs: 20, what: 'every in-flight link issued' })
  t.comment(`in-flight links issued by the other replica after a link-issuer SIGKILL: ${Math.round(performance.now() - killedAt)} ms (${IN_FLIGHT} links)`)

  for (const [i, reference] of references.entries()) {
    const res = await post(standing.url, m.apiKey, `key-${reference}`, reference)
    t.equal(res.status, 201, `the retried POST of ${reference} gets its link`)
    const link = await res.json() as { id: string, paymentIntentId: string }
    t.equal(link.id, linkIds[i])
    const intents = await m.dojo.findPaymentIntentsByReference(dojoReferenceFor(reference, link.id), { createdFrom: new Date(Date.now() - 600_000) })
    t.same(intents.map((x) => x.id), [link.paymentIntentId], `${reference}: one intent at Dojo, the recorded one`)
  }
  t.equal(proxy.creates(), IN_FLIGHT, 'no create was sent again')
})
