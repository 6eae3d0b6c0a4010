import t from 'tap'
import { sql } from 'kysely'
import { Webhook } from 'standardwebhooks'
import { createApiKey, type MerchantTables } from '@paylinks/merchants'
import type { Kysely } from 'kysely'
import { buildDispatch, call, createWorld, deliveriesOf, endpointFor, linkEvents, linkId, startReceiver, until } from './helpers.js'

const shop = 'mer_endpoints1'
const other = 'mer_endpoints2'

t.test('the webhook endpoints API', async (t) => {
  const world = await createWorld(t)
  const app = await buildDispatch(t, world.env)
  const key = await world.keyFor(shop)
  const otherKey = await world.keyFor(other)
  const receiver = await startReceiver(t)

  t.test('should refuse URLs it would never call, with problem+json', async (t) => {
    const strictApp = await buildDispatch(t, { ...world.env, WEBHOOK_ALLOW_HTTP_LOOPBACK: 'false', WEBHOOK_WORKER: 'false' })
    const cases: Array<[string, string]> = [['https://10.0.0.1/hooks', 'WEBHOOK_URL_FORBIDDEN_ADDRESS'], ['https://169.254.169.254/latest/meta-data', 'WEBHOOK_URL_FORBIDDEN_ADDRESS'],
      ['https://[fd00:ec2::254]/', 'WEBHOOK_URL_FORBIDDEN_ADDRESS'], ['http://hooks.example.com/x', 'WEBHOOK_URL_NOT_HTTPS'], ['http://127.0.0.1:9/x', 'WEBHOOK_URL_NOT_HTTPS']]
    for (const [url, code] of cases) {
      const res = await strictApp.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: { authorization: `Bearer ${key}` }, payload: { url } })
      t.equal(res.statusCode, 400, url)
      t.match(res.headers['content-type'], /application\/problem\+json/)
      t.match(res.json(), { code, status: 400, detail: String })
    }
    const bad = await call(app, key, 'POST', '/v1/webhook-endpoints', { url: receiver.url, eventTypes: ['payment_link.exploded'] })
    t.equal(bad.status, 400)
    t.match(bad.body, { code: 'SVC_VALIDATION' })
    t.same((await call(app, key, 'GET', '/v1/webhook-endpoints')).body.data, [], 'nothing was created')
  })

  t.test('should need a merchant key, and keep another merchant\'s endpoint unseen and unchanged', async (t) => {
    const endpoint = await endpointFor(app, key, receiver, ['payment_link.paid'])
    t.equal((await app.inject({ method: 'GET', url: '/v1/webhook-endpoints' })).statusCode, 401)
    t.equal((await call(app, 'plk_nope', 'GET', '/v1/webhook-endpoints')).status, 401)
    const analyst = (await createApiKey(world.db as unknown as Kysely<MerchantTables>, { scope: 'analyst' })).key
    t.equal((await call(app, analyst, 'GET', '/v1/webhook-endpoints')).status, 403, 'an analyst key has no endpoints')
    const base = `/v1/webhook-endpoints/${endpoint.id}`
    const attempts: Array<[Parameters<typeof call>[2], string, unknown]> = [
      ['GET', base, undefined], ['PATCH', base, { url: 'https://attacker.example/steal', enabled: false }], ['DELETE', base, undefined],
      ['POST', `${base}/rotate-secret`, {}], ['POST', `${base}/test`, undefined], ['GET', `${base}/deliveries`, undefined],
      ['POST', `${base}/replay`, { since: '2020-01-01T00:00:00Z' }]
    ]
    for (const [method, url, body] of attempts) {
      const r = await call(app, otherKey, method, url, body)
      t.equal(r.status, 404, `${method} ${url} with another merchant's key`)
      t.match(r.body, { code: 'WEBHOOK_ENDPOINT_NOT_FOUND' })
    }
    t.same((await call(app, otherKey, 'GET', '/v1/webhook-endpoints')).body.data, [], 'the list shows only one\'s own')
    const mine = await call(app, key, 'GET', base)
    t.match(mine.body, { url: receiver.url, status: 'enabled', secretVersion: 1, eventTypes: ['payment_link.paid'] }, 'unchanged')
    const stream = await sql<{ n: number }>`SELECT count(*)::int AS n FROM es_events WHERE stream_id = ${`webhook-endpoint.${endpoint.id}`}`.execute(world.db)
    t.equal(stream.rows[0]!.n, 1, 'no event beyond its creation')
    const deliveries = await sql<{ n: number }>`SELECT count(*)::int AS n FROM wd_deliveries WHERE endpoint_id = ${endpoint.id}`.execute(world.db)
    t.equal(deliveries.rows[0]!.n, 0, 'nothing was queued for it')
    t.equal((await call(app, key, 'DELETE', base)).status, 204)
    t.equal((await call(app, key, 'GET', base)).status, 404, 'deleted')
  })

  t.test('should sign with both secrets during a rotation\'s overlap, then with the new one only', async (t) => {
    const rx = await startReceiver(t)
    const endpoint = await endpointFor(app, key, rx, ['payment_link.issued'])
    const old = endpoint.secret
    const rotated = await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { overlapHours: 24 })
    t.equal(rotated.status, 200)
    t.match(rotated.body, { secret: /^whsec_/, secretVersion: 2, previousSecretValidUntil: String })
    const fresh = rotated.body.secret as string
    t.not(fresh, old)
    const test = await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    t.equal(test.status, 202)
    await until(() => rx.received.length === 1)
    const first = rx.received[0]!
    const headers = { 'webhook-id': first.id, 'webhook-timestamp': first.timestamp, 'webhook-signature': first.signature }
    t.equal(first.id, test.body.eventId)
    t.match(new Webhook(old).verify(first.body, headers), { type: 'webhook_endpoint.test' }, 'the old secret verifies during the overlap')
    t.match(new Webhook(fresh).verify(first.body, headers), { type: 'webhook_endpoint.test' }, 'the new secret verifies')

    await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { overlapHours: 0 })
    const newest = (await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { overlapHours: 0 })).body.secret as string
    const a = linkId()
    const { requested, issued } = linkEvents(a, shop)
    await world.issuer.publish([requested, issued], { expectedLastSubjectSequence: 0 })
    await until(() => rx.received.length === 2)
    const second = rx.received[1]!
    const h2 = { 'webhook-id': second.id, 'webhook-timestamp': second.timestamp, 'webhook-signature': second.signature }
    t.match(new Webhook(newest).verify(second.body, h2), { id: issued.id })
    t.throws(() => new Webhook(fresh).verify(second.body, h2), /No matching signature/, 'a secret past its overlap no longer verifies')
    t.throws(() => new Webhook(old).verify(second.body, h2), /No matching signature/)
  })

  t.test('should not follow a redirect, and log it as a failed attempt', async (t) => {
    const target = await startReceiver(t, '/target')
    const rx = await startReceiver(t)
    rx.respond = () => 302
    const endpoint = await endpointFor(app, key, rx, ['payment_link.issued'])
    await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    const [d] = await until(async () => {
      const list = await deliveriesOf(app, key, endpoint.id)
      return list[0]?.status === 'failed' && list
    })
    t.match(d.log, [{ statusCode: 302, error: /redirect 302 not followed/ }])
    t.equal(target.received.length, 0)
  })

  t.test('should create once per Idempotency-Key and describe itself in OpenAPI', async (t) => {
    const rx = await startReceiver(t)
    const body = { url: rx.url, description: 'orders' }
    const one = await call(app, key, 'POST', '/v1/webhook-endpoints', body, { 'idempotency-key': 'k-1' })
    const two = await call(app, key, 'POST', '/v1/webhook-endpoints', body, { 'idempotency-key': 'k-1' })
    t.equal(one.status, 201)
    t.equal(two.status, 201)
    t.equal(two.body.id, one.body.id)
    t.equal(two.body.secret, one.body.secret)
    t.equal((await call(app, key, 'POST', '/v1/webhook-endpoints', { ...body, description: 'else' }, { 'idempotency-key': 'k-1' })).status, 409)
    const docs = (await app.inject('/docs/json')).json()
    for (const path of ['/v1/webhook-endpoints', '/v1/webhook-endpoints/{id}', '/v1/webhook-endpoints/{id}/rotate-secret', '/v1/webhook-endpoints/{id}/test', '/v1/webhook-endpoints/{id}/deliveries', '/v1/webhook-endpoints/{id}/replay']) {
      t.ok(docs.paths[path], `${path} documented`)
    }
    t.match(JSON.stringify(docs.paths['/v1/webhook-endpoints'].post), /whsec_/)
  })
  t.test('should refuse at delivery time a name that resolves to loopback when loopback is not allowed', async (t) => {
    const port = new URL(receiver.url).port
    const before = receiver.received.length
    // The only worker from here on is one where loopback is not allowed: the name is checked after DNS.
    await app.close()
    const strict = await buildDispatch(t, { ...world.env, WEBHOOK_ALLOW_HTTP_LOOPBACK: 'false' })
    const created = await call(strict, key, 'POST', '/v1/webhook-endpoints', { url: `https://localhost:${port}/hooks`, eventTypes: ['payment_link.issued'] })
    t.equal(created.status, 201, 'a name is only checked when called')
    await call(strict, key, 'POST', `/v1/webhook-endpoints/${created.body.id as string}/test`)
    const [d] = await until(async () => {
      const list = await deliveriesOf(strict, key, created.body.id)
      return list[0]?.log.length === 1 && list
    })
    t.match(d.log[0], { statusCode: null, error: /refused: localhost resolves to .*loopback/ })
    t.equal(receiver.received.length, before, 'nothing reached the receiver')
  })
})
