import t from 'tap'
import { sql } from 'kysely'
import { buildDispatch, call, createWorld, deliveriesOf, endpointFor, linkEvents, linkId, startReceiver, statusChanged, until } from './helpers.js'

const merchantId = 'mer_dispatch01'

t.test('webhook-dispatch should deliver issued and paid from the store, verified by the reference library, without personal data', async (t) => {
  const world = await createWorld(t)
  const app = await buildDispatch(t, world.env)
  const key = await world.keyFor(merchantId)
  const receiver = await startReceiver(t)
  const endpoint = await endpointFor(app, key, receiver)
  t.match(endpoint.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/)

  const a = linkId()
  const { requested, issued } = linkEvents(a, merchantId, 'order-4411')
  const acks = await world.issuer.publish([requested, issued], { expectedLastSubjectSequence: 0 })
  const paid = statusChanged(a, 'issued', 'paid')
  await world.ingest.publish([paid], { expectedLastSubjectSequence: acks[1]!.seq })
  await until(() => receiver.received.length >= 2, { what: 'two deliveries' })

  t.same(receiver.received.map((r) => r.verifiedWith), [0, 0], 'each delivery verifies with the endpoint secret (standardwebhooks)')
  t.same(receiver.received.map((r) => r.id), [issued.id, paid.id], 'webhook-id is the store event id')
  t.match(receiver.received[0]!.payload, { id: issued.id, type: 'payment_link.issued', version: 1, data: { linkId: a, reference: 'order-4411', status: 'issued', amount: { value: 2599, currencyCode: 'GBP' }, url: issued.data.url } })
  t.match(receiver.received[1]!.payload, { id: paid.id, type: 'payment_link.paid', data: { linkId: a, reference: 'order-4411', status: 'paid', capturedAmount: 2599 } })
  for (const r of receiver.received) t.notMatch(r.body, /someone@example\.com|Ada Lovelace|cus_/, 'no customer personal data')
  t.match(receiver.received[0]!.signature, /^v1,[A-Za-z0-9+/]+=*$/)

  const log = await until(async () => {
    const d = await deliveriesOf(app, key, endpoint.id)
    return d.length === 2 && d.every((x) => x.status === 'delivered') && d
  })
  for (const d of log) {
    t.equal(d.attempts, 1)
    t.equal(d.log.length, 1)
    t.equal(d.log[0].statusCode, 204)
    t.type(d.log[0].latencyMs, 'number')
  }
  const secrets = await sql<{ sealed: string }>`SELECT sealed FROM wd_endpoint_secrets`.execute(world.db)
  t.notMatch(JSON.stringify(secrets.rows), endpoint.secret.slice(6), 'the secret is sealed at rest')
  const events = await sql<{ data: unknown }>`SELECT data FROM es_events WHERE type LIKE 'webhook-endpoint.%'`.execute(world.db)
  t.notMatch(JSON.stringify(events.rows), endpoint.secret.slice(6), 'no event holds the secret')
})

t.test('webhook-dispatch should retry after a 500 and a timeout, then disable the endpoint and tell the merchant; re-enabled, it delivers and replays', async (t) => {
  const world = await createWorld(t)
  const app = await buildDispatch(t, world.env)
  const key = await world.keyFor(merchantId)
  const failing = await startReceiver(t)
  const watcher = await startReceiver(t)
  let n = 0
  failing.respond = () => { n++; return n === 2 ? 'hang' : 500 }
  const endpoint = await endpointFor(app, key, failing, ['payment_link.issued', 'payment_link.paid'])
  await endpointFor(app, key, watcher, ['webhook_endpoint.disabled'])

  const a = linkId()
  const { requested, issued } = linkEvents(a, merchantId)
  const acks = await world.issuer.publish([requested, issued], { expectedLastSubjectSequence: 0 })
  const disabled = await until(async () => {
    const e = await call(app, key, 'GET', `/v1/webhook-endpoints/${endpoint.id}`)
    return e.body.status === 'disabled' && e.body
  }, { what: 'endpoint disabled' })
  t.match(disabled, { status: 'disabled', disabled: { reason: 'failing' }, health: { failingSince: String } })
  t.equal(failing.received.length, 3, 'one request per attempt of the schedule (0, 200 ms, 400 ms)')
  t.same(new Set(failing.received.map((r) => r.id)), new Set([issued.id]), 'every attempt carries the same webhook-id')
  t.ok(failing.received.every((r) => r.verifiedWith === 0), 'every attempt is signed')

  const [delivery] = await deliveriesOf(app, key, endpoint.id)
  t.match(delivery, { eventId: issued.id, status: 'failed', attempts: 3 })
  t.same(delivery.log.map((l: any) => l.statusCode), [500, null, 500])
  t.match(delivery.log[1].error, /timeout/)

  await until(() => watcher.received.length === 1, { what: 'the disabled notice' })
  t.match(watcher.received[0]!.payload, { type: 'webhook_endpoint.disabled', data: { endpointId: endpoint.id, url: failing.url, reason: 'failing' } })
  t.equal(watcher.received[0]!.verifiedWith, 0)
  const recorded = await sql<{ data: any }>`SELECT data FROM es_events WHERE type = 'webhook-endpoint.disabled'`.execute(world.db)
  t.match(recorded.rows, [{ data: { endpointId: endpoint.id, merchantId, reason: 'failing' } }], 'the disable is a recorded event')

  // Events while disabled are kept (canceled), for a replay.
  const paid = statusChanged(a, 'issued', 'paid')
  await world.ingest.publish([paid], { expectedLastSubjectSequence: acks[1]!.seq })
  await until(async () => (await deliveriesOf(app, key, endpoint.id)).some((d) => d.eventId === paid.id && d.status === 'canceled'))
  t.equal(failing.received.length, 3, 'nothing is sent to a disabled endpoint')
  t.equal((await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/replay`, { eventId: paid.id })).status, 409, 'no replay to a disabled endpoint')

  failing.respond = () => 200
  const enabled = await call(app, key, 'PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: true })
  t.match(enabled.body, { status: 'enabled', disabled: null })
  const replay = await call(app, key, 'POST', `/v1/webhook-endpoints/${endpoint.id}/replay`, { since: new Date(Date.now() - 3_600_000).toISOString() })
  t.same(replay.body, { replayed: 2 })
  await until(() => failing.received.length === 5, { what: 'the replays' })
  t.same(failing.received.slice(3).map((r) => r.id).sort(), [issued.id, paid.id].sort(), 'replays keep their webhook-id')
  t.ok(failing.received.slice(3).every((r) => r.verifiedWith === 0))
  const log = await until(async () => {
    const d = await deliveriesOf(app, key, endpoint.id)
    return d.filter((x) => x.kind === 'replay' && x.status === 'delivered').length === 2 && d
  })
  t.equal(log.length, 4, 'two deliveries and two replays in the log')
})
