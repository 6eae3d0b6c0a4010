import { Writable } from 'node:stream'
import t from 'tap'
import Fastify from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { TestContext } from '@paylinks/test-kit'
import { decodeCursor, encodeCursor, loadConfig, problemResponses, ProblemSchema, ServerConfigSchema, ServiceError, serverOptions, serviceKit } from '../src/index.js'

const config = loadConfig(ServerConfigSchema, { LOG_LEVEL: 'silent' })

async function buildApp (t: TestContext, options: { logs?: string[] } = {}) {
  const opts = serverOptions(config, { pretty: false })
  if (options.logs !== undefined) {
    const logs = options.logs
    const stream = new Writable({ write (chunk, _enc, cb) { logs.push(chunk.toString()); cb() } })
    opts.logger = { ...(opts.logger as object), level: 'info', stream } as any
  }
  const app = Fastify(opts).withTypeProvider<TypeBoxTypeProvider>()
  await app.register(serviceKit, { name: 'test-service' })
  app.post('/orders', {
    schema: {
      body: Type.Object({ amount: Type.Integer({ minimum: 1 }), reference: Type.String({ maxLength: 5 }) }, { additionalProperties: false }),
      querystring: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }),
      response: { 201: Type.Object({ amount: Type.Integer(), dryRun: Type.Boolean() }), 400: ProblemSchema, 409: ProblemSchema }
    }
  }, async (request, reply) => {
    if (request.body.reference === 'taken') throw new ServiceError('ORDER_TAKEN', 409, 'reference taken is already used', { extra: { existing: 'ord_1' } })
    if (request.body.reference === 'boom') throw new Error('database password hunter2 leaked in message')
    if (request.body.reference === 'nats') throw Object.assign(new Error('no acknowledgement for event e1 on events.x: timeout'), { code: 'MSG_TIMEOUT' })
    if (request.body.reference === 'pg') throw new Error('wrapped', { cause: Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }) })
    if (request.body.reference === 'busy') throw new ServiceError('ORDER_BUSY', 503, 'the order desk is busy; retry shortly', { extra: { orderId: 'ord_2' }, retryAfterSeconds: 3 })
    return reply.code(201).send({ amount: request.body.amount, dryRun: request.query.dryRun ?? false })
  })
  app.post('/orders/:id/cancel', {
    schema: { body: Type.Union([Type.Object({ reason: Type.Optional(Type.String()) }, { additionalProperties: false }), Type.Null()]), response: { 200: Type.Object({ reason: Type.Union([Type.String(), Type.Null()]) }) } }
  }, async (request) => ({ reason: request.body?.reason ?? null }))
  app.delete('/orders/:id', async () => ({ deleted: true }))
  app.get('/search', {
    schema: { querystring: Type.Object({ from: Type.Optional(Type.String({ format: 'date-time' })), day: Type.Optional(Type.String({ format: 'date' })), url: Type.Optional(Type.String({ format: 'uri' })), cursor: Type.Optional(Type.String()) }) }
  }, async (request) => ({ from: request.query.from === undefined ? null : new Date(request.query.from).toISOString(), cursor: request.query.cursor === undefined ? null : decodeCursor(request.query.cursor, ['date-time', 'string']) }))
  t.teardown(() => app.close())
  return app
}

t.test('loadConfig should name every missing or bad variable in one message', async (t) => {
  const schema = Type.Object({ DATABASE_URL: Type.String({ description: 'Postgres URL' }), PORT: Type.Integer(), API_KEY: Type.String({ minLength: 10 }) })
  t.throws(() => loadConfig(schema, { PORT: 'eighty', API_KEY: 'short' }), {
    code: 'SVC_CONFIG',
    message: /DATABASE_URL is required \(Postgres URL\)[\s\S]*PORT="eighty"[\s\S]*API_KEY="\[redacted\]"/
  })
  const ok = loadConfig(ServerConfigSchema, { PORT: '8080' })
  t.equal(ok.PORT, 8080)
  t.equal(ok.HOST, '127.0.0.1')
  t.ok(Object.isFrozen(ok))
})

t.test('the app should refuse bad bodies with problem+json naming each field', async (t) => {
  const app = await buildApp(t)
  const res = await app.inject({ method: 'POST', url: '/orders', payload: { amount: '10', reference: 'toolong', extra: 1 } })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const body = res.json()
  t.equal(body.code, 'SVC_VALIDATION')
  t.same(body.errors.map((e: { path: string }) => e.path).sort(), ['/body/amount', '/body/extra', '/body/reference'])
  const ok = await app.inject({ method: 'POST', url: '/orders?dryRun=true', payload: { amount: 10, reference: 'abc' } })
  t.same(ok.json(), { amount: 10, dryRun: true }, 'query strings are still coerced')
})

t.test('the app should answer malformed JSON, wrong content types, unknown routes and oversized bodies with problems', async (t) => {
  const app = await buildApp(t)
  const malformed = await app.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json' }, payload: '{"amount":' })
  t.equal(malformed.statusCode, 400)
  t.match(malformed.json().detail, /JSON/)
  const wrongType = await app.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'text/csv' }, payload: 'a,b' })
  t.equal(wrongType.statusCode, 415)
  t.match(wrongType.headers['content-type'], /problem\+json/)
  const missing = await app.inject({ method: 'GET', url: '/nowhere?x=1' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().detail, 'No route for GET /nowhere.')
  const big = await app.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ amount: 1, reference: 'x'.repeat(2_000_000) }) })
  t.equal(big.statusCode, 413)
  const poisoned = await app.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json' }, payload: '{"amount":1,"reference":"a","__proto__":{"x":1}}' })
  t.equal(poisoned.statusCode, 400, 'prototype poisoning is still refused')
})

t.test('a bodyless request with a JSON content type should be accepted on routes without a body', async (t) => {
  const app = await buildApp(t)
  const json = { 'content-type': 'application/json' }
  const cancel = await app.inject({ method: 'POST', url: '/orders/o1/cancel', headers: json })
  t.equal(cancel.statusCode, 200, cancel.body)
  t.same(cancel.json(), { reason: null })
  const withBody = await app.inject({ method: 'POST', url: '/orders/o1/cancel', headers: json, payload: { reason: 'typo' } })
  t.same(withBody.json(), { reason: 'typo' }, 'a body is still parsed')
  const del = await app.inject({ method: 'DELETE', url: '/orders/o1', headers: { ...json, 'content-length': '0' } })
  t.equal(del.statusCode, 200, del.body)
  const required = await app.inject({ method: 'POST', url: '/orders', headers: json })
  t.equal(required.statusCode, 400, 'a route that needs a body still says so')
  t.equal(required.json().code, 'SVC_VALIDATION')
})

t.test('formats should be validated by one rule, so a date JavaScript cannot read is a 400', async (t) => {
  const app = await buildApp(t)
  for (const bad of ['from=not-a-date', 'from=2026-02-30T10:00:00Z', 'from=2026-12-31T23:59:60Z', 'day=2026-13-01', 'day=2026-02-29', 'url=http://exa%20mple.com', 'url=no-scheme']) {
    const res = await app.inject(`/search?${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.equal(res.json().code, 'SVC_VALIDATION', bad)
  }
  const ok = await app.inject('/search?from=2026-02-28T10:00:00%2B01:00&day=2028-02-29&url=https://example.com/a?b=1')
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.json().from, '2026-02-28T09:00:00.000Z')
})

t.test('decodeCursor should read what encodeCursor wrote and refuse anything else with a 400 problem', async (t) => {
  const app = await buildApp(t)
  const cursor = encodeCursor(['2026-01-02T03:04:05.000Z', 'lnk_1'])
  t.same(decodeCursor(cursor, ['date-time', 'string']), ['2026-01-02T03:04:05.000Z', 'lnk_1'])
  t.same(decodeCursor(encodeCursor([42, 'x']), ['number', 'string']), [42, 'x'])
  for (const bad of ['nonsense', encodeCursor(['yesterday', 'lnk_1']), encodeCursor(['2026-01-02T03:04:05.000Z']), Buffer.from('2026-01-02T03:04:05.000Z|lnk_1').toString('base64url')]) {
    const res = await app.inject(`/search?cursor=${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.match(res.json(), { code: 'SVC_BAD_CURSOR', detail: /\/querystring\/cursor is not a cursor from this API/ })
  }
})

t.test('ServiceErrors should keep their code and extras; other errors should be a bare 500', async (t) => {
  const logs: string[] = []
  const app = await buildApp(t, { logs })
  const taken = await app.inject({ method: 'POST', url: '/orders', payload: { amount: 1, reference: 'taken' } })
  t.equal(taken.statusCode, 409)
  t.match(taken.json(), { code: 'ORDER_TAKEN', detail: 'reference taken is already used', existing: 'ord_1' })
  for (const reference of ['nats', 'pg']) {
    const down = await app.inject({ method: 'POST', url: '/orders', payload: { amount: 1, reference } })
    t.equal(down.statusCode, 503, `${reference} unavailable is a 503, not a 500`)
    t.equal(down.headers['retry-after'], '1')
    t.match(down.json(), { code: 'SVC_UNAVAILABLE', status: 503 })
    t.notMatch(down.body, /administrator|events\.x/, 'without the internals')
  }
  const boom = await app.inject({ method: 'POST', url: '/orders', payload: { amount: 1, reference: 'boom' } })
  t.equal(boom.statusCode, 500)
  t.notMatch(boom.body, /hunter2/, 'a 5xx never echoes its message')
  t.match(logs.join(''), /hunter2/, 'but the log has it')
  const busy = await app.inject({ method: 'POST', url: '/orders', payload: { amount: 1, reference: 'busy' } })
  t.equal(busy.statusCode, 503)
  t.equal(busy.headers['retry-after'], '3')
  t.match(busy.json(), { code: 'ORDER_BUSY', detail: 'the order desk is busy; retry shortly', orderId: 'ord_2' }, 'an exposed 5xx keeps its message')
})

t.test('logs should never carry authorization headers, secret keys or card numbers', async (t) => {
  const logs: string[] = []
  const app = await buildApp(t, { logs })
  await app.inject({ method: 'POST', url: '/orders', headers: { authorization: 'Basic sk_sandbox_abcdef123456' }, payload: { amount: 1, reference: 'abc' } })
  app.log.info({ secretKey: 'sk_prod_fake-key' }, 'paid with 5200 0000 0000 1005 using sk_sandbox_qwerty')
  app.log.info({ config: { NATS_USER: 'projector', NATS_PASSWORD: 'nats-pw-1' }, options: { user: 'projector', pass: 'nats-pw-2' } }, 'connecting to nats://projector:nats-pw-3@127.0.0.1:4222')
  const text = logs.join('')
  t.notMatch(text, /sk_sandbox_|sk_prod_|5200 0000 0000 1005|nats-pw-/)
  t.match(text, /nats:\/\/projector:\[redacted\]@127\.0\.0\.1/, 'the URL keeps its user and host')
  t.match(text, /\[redacted\]/)
})

t.test('/healthz, /readyz and /metrics should report the process and its dependencies', async (t) => {
  const app = await buildApp(t)
  let postgresUp = true
  app.readiness.add('postgres', async () => { if (!postgresUp) throw new Error('connection refused') })
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.same((await app.inject('/readyz')).json(), { status: 'ok', checks: { postgres: 'ok' } })
  postgresUp = false
  const down = await app.inject('/readyz')
  t.equal(down.statusCode, 503)
  t.match(down.headers['content-type'], /^application\/problem\+json/)
  t.match(down.json(), { status: 503, code: 'SVC_UNAVAILABLE', detail: 'Not ready: postgres: connection refused', checks: { postgres: 'connection refused' } })
  postgresUp = true
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready again once the dependency answers')
  await app.inject({ method: 'POST', url: '/orders', payload: { amount: 1, reference: 'abc' } })
  const metrics = await app.inject('/metrics')
  t.match(metrics.body, /http_request_duration_seconds_count\{method="POST",route="\/orders",status="201"\} 1/)
  t.match(metrics.body, /process_cpu_user_seconds_total/)
  const docs = await app.inject('/docs/json')
  t.ok(docs.json().paths['/orders'], 'the route is in the OpenAPI document')
})

t.test('the OpenAPI document should say what a client may leave out, refer errors to the one Problem, and name its server', async (t) => {
  const app = Fastify(serverOptions(config, { pretty: false })).withTypeProvider<TypeBoxTypeProvider>()
  await app.register(serviceKit, { name: 'doc-service', publicUrl: 'https://svc.paylinks.test/' })
  app.post('/things/:id/close', {
    schema: {
      operationId: 'closeThing',
      params: Type.Object({ id: Type.String() }),
      querystring: Type.Object({ limit: Type.Integer({ default: 20 }), must: Type.String() }),
      body: Type.Union([Type.Object({ reason: Type.Optional(Type.String()) }), Type.Null()]),
      response: { 200: Type.Object({ closed: Type.Boolean() }), ...problemResponses(404) }
    }
  }, async () => ({ closed: true }))
  t.teardown(() => app.close())
  const doc = (await app.inject('/docs/json')).json()
  t.same(doc.servers, [{ url: 'https://svc.paylinks.test' }])
  t.match(doc.info, { title: 'doc-service', license: { name: 'Proprietary' } })
  const op = doc.paths['/things/{id}/close'].post
  t.equal(op.requestBody.required, false, 'a body that admits null is optional')
  t.same(op.requestBody.content['application/json'].schema.properties, { reason: { type: 'string' } }, 'and documented without its null branch')
  t.same(op.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string, required: boolean }) => [p.name, p.required]), [['limit', false], ['must', true]])
  for (const status of ['400', '404']) {
    t.same(op.responses[status].content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }, `${status} refers to the Problem component`)
  }
  t.equal(doc.components.schemas.Problem.title, 'Problem')
  t.notOk(doc.paths['/healthz'] ?? doc.paths['/metrics'], 'operator routes are left out')
  const closed = await app.inject({ method: 'POST', url: '/things/a/close?must=x' })
  t.equal(closed.statusCode, 200, 'no body, no content type')
  const missing = await app.inject({ method: 'POST', url: '/things/a/close' })
  t.match(missing.json(), { status: 400, code: 'SVC_VALIDATION' })
})
