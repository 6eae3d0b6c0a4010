import t from 'tap'
import type { JetStreamClient } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { credit, testRegistry } from '@paylinks/test-kit'
import { ack, createEventPublisher, defaultNatsTopology, natsAuthConfig, orderSystemPermissions, encodeEvent, ensureConsumer, ensureStream, eventHeaders, resetConsumer, startConsumerLoop, subjectFor, type Messaging } from '../src/index.js'
import { startAuthServer, type AuthServer } from './auth-helpers.js'

const registry = createEventRegistry(domainEvents)

/** A well-formed `payment-link.status-changed` to `paid`: what a forger would publish. */
function forgedPaid (linkId = 'lnk_forged000001') {
  return registry.create('payment-link.status-changed', {
    linkId,
    paymentIntentId: 'pi_forged0000001',
    from: 'issued',
    to: 'paid',
    dojoStatus: 'Captured',
    amount: { value: 1000, currencyCode: 'GBP' },
    capturedAmount: 1000,
    refundedAmount: 0,
    source: 'webhook',
    observedAt: new Date().toISOString()
  }, { streamId: `payment-link.${linkId}`, metadata: { correlationId: 'forgery', producer: 'webhook-ingest' } })
}

async function publishForgery (m: { js: JetStreamClient }, prefix: string): Promise<unknown> {
  const event = forgedPaid()
  return await m.js.publish(subjectFor(prefix, event.streamId), encodeEvent(event), { msgID: event.id, headers: eventHeaders(event), timeout: 1500 })
}

/** Declare the streams as the services do at start, each with its own user. */
async function declareAll (a: AuthServer) {
  const { topology: tp } = a
  const recorder = await a.connectAs('event-recorder')
  await ensureStream(recorder.jsm, { name: tp.eventsStream, subjects: [`${tp.eventsSubjectPrefix}.>`], maxAgeMs: 60_000 })
  const issuer = await a.connectAs('link-issuer')
  await ensureStream(issuer.jsm, { name: tp.eventsStream, subjects: [`${tp.eventsSubjectPrefix}.>`], maxAgeMs: 60_000 })
  await ensureStream(issuer.jsm, { name: tp.ordersStream, subjects: [`${tp.ordersSubjectPrefix}.v1.>`], maxAgeMs: 60_000 })
  await ensureConsumer(issuer.jsm, { stream: tp.ordersStream, durable: tp.ordersDurable, filterSubject: `${tp.ordersSubjectPrefix}.v1.>`, ackWaitMs: 5000 })
  const projector = await a.connectAs('projector')
  await ensureStream(projector.jsm, { name: tp.integrationStream, subjects: [`${tp.integrationSubjectPrefix}.v1.>`], maxAgeMs: 60_000 })
  const setup = await a.connectAs('setup')
  return { recorder, issuer, projector, setup }
}

async function messageCount (setup: Messaging, stream: string): Promise<number> {
  return (await setup.jsm.streams.info(stream)).state.messages
}

t.test('an authenticated nats-server should refuse a client without credentials or with a wrong password', async (t) => {
  const a = await startAuthServer(t)
  await t.rejects(connect({ servers: a.server.url, timeout: 3000, reconnect: false }), /authorization/i)
  await t.rejects(a.connectAs('webhook-ingest', 'not-the-password'), /authorization/i)
  const ok = await a.connectAs('webhook-ingest')
  t.ok(await ok.ping() >= 0, 'the right password connects')
})

t.test('an order-system credential should publish its merchant\'s orders and nothing else', async (t) => {
  const a = await startAuthServer(t)
  const { setup } = await declareAll(a)
  const { topology: tp } = a
  const password = await a.addOrderSystem('ord_mer_alpha0001_k1', 'mer_alpha0001')
  const orders = await a.connectOrderSystem('ord_mer_alpha0001_k1', password)

  const accepted = await orders.js.publish(`${tp.ordersSubjectPrefix}.v1.mer_alpha0001`, JSON.stringify({ orderId: 'o-1' }), { msgID: 'o-1', timeout: 1500 })
  t.equal(accepted.stream, tp.ordersStream, 'its own merchant\'s order is stored')
  await t.rejects(orders.js.publish(`${tp.ordersSubjectPrefix}.v1.mer_bravo0002`, JSON.stringify({ orderId: 'o-2' }), { msgID: 'o-2', timeout: 1500 }), 'another merchant\'s order is refused')
  await t.rejects(publishForgery(orders, tp.eventsSubjectPrefix), 'a forged event is refused')
  await t.rejects(orders.nc.request(`$JS.API.STREAM.INFO.${tp.ordersStream}`, '', { timeout: 1500 }), 'the JetStream API is refused')
  await t.rejects(orders.nc.request(`$JS.API.STREAM.PURGE.${tp.ordersStream}`, '', { timeout: 1500 }), 'so is purging the orders')

  t.equal(await messageCount(setup, tp.ordersStream), 1, 'only the one allowed order reached ORDERS')
  t.equal(await messageCount(setup, tp.eventsStream), 0, 'nothing reached EVENTS')
})

t.test('a revoked order-system credential should no longer connect once the server reloads', async (t) => {
  const a = await startAuthServer(t)
  const password = await a.addOrderSystem('ord_mer_alpha0001_k2', 'mer_alpha0001')
  const before = await a.connectOrderSystem('ord_mer_alpha0001_k2', password)
  t.ok(await before.nc.rtt() >= 0)
  await a.removeUser('ord_mer_alpha0001_k2')
  await t.rejects(a.connectOrderSystem('ord_mer_alpha0001_k2', password), /authorization/i)
})

t.test('link-issuer\'s user should declare its streams, consume orders and publish its events only', async (t) => {
  const a = await startAuthServer(t)
  const { issuer, setup } = await declareAll(a)
  const { topology: tp } = a
  const password = await a.addOrderSystem('ord_mer_alpha0001_k3', 'mer_alpha0001')
  const orders = await a.connectOrderSystem('ord_mer_alpha0001_k3', password)
  await orders.js.publish(`${tp.ordersSubjectPrefix}.v1.mer_alpha0001`, JSON.stringify({ orderId: 'o-1' }), { msgID: 'o-1', timeout: 1500 })

  const handled: string[] = []
  const loop = await startConsumerLoop({ consumer: await issuer.js.consumers.get(tp.ordersStream, tp.ordersDurable), handler: async (msg) => { handled.push(msg.subject); return ack() } })
  t.teardown(() => loop.stop())
  while (handled.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  await loop.stop()
  t.same(handled, [`${tp.ordersSubjectPrefix}.v1.mer_alpha0001`])
  t.equal((await setup.jsm.consumers.info(tp.ordersStream, tp.ordersDurable)).num_ack_pending, 0, 'the order was acked')

  const publisher = createEventPublisher({ js: issuer.js, subjectPrefix: tp.eventsSubjectPrefix, registry: testRegistry, retries: 0 })
  await publisher.publish([credit('payment-link.lnk_issuer000001')])
  await publisher.publish([credit('order.key0001')])
  await t.rejects(publisher.publish([credit('ledger.other0001')]), 'another category of events is refused')
  await t.rejects(issuer.js.publish(`${tp.integrationSubjectPrefix}.v1.link.issued.mer_alpha0001`, '{}', { timeout: 1500 }), 'integration events are the projector\'s')
  await t.rejects(ensureConsumer(issuer.jsm, { stream: tp.eventsStream, durable: tp.recorderDurable, filterSubject: `${tp.eventsSubjectPrefix}.>` }), 'the events stream is the recorder\'s to consume')
  await t.rejects(issuer.jsm.streams.delete(tp.eventsStream), 'streams are not deleted')
  t.equal(await messageCount(setup, tp.eventsStream), 2)
  t.equal(await messageCount(setup, tp.integrationStream), 0)
})

t.test('webhook-ingest\'s user should publish payment-link events and nothing else', async (t) => {
  const a = await startAuthServer(t)
  const { setup } = await declareAll(a)
  const { topology: tp } = a
  const ingest = await a.connectAs('webhook-ingest')
  await ensureStream(ingest.jsm, { name: tp.eventsStream, subjects: [`${tp.eventsSubjectPrefix}.>`], maxAgeMs: 60_000 })
  const publisher = createEventPublisher({ js: ingest.js, subjectPrefix: tp.eventsSubjectPrefix, registry, retries: 0 })
  await publisher.publish([forgedPaid('lnk_ingest0000001')])
  await t.rejects(createEventPublisher({ js: ingest.js, subjectPrefix: tp.eventsSubjectPrefix, registry: testRegistry, retries: 0 }).publish([credit('order.key0002')]), 'order events are link-issuer\'s')
  await t.rejects(ingest.js.publish(`${tp.ordersSubjectPrefix}.v1.mer_alpha0001`, '{}', { timeout: 1500 }), 'orders are the order systems\'')
  await t.rejects(ensureConsumer(ingest.jsm, { stream: tp.ordersStream, durable: tp.ordersDurable, filterSubject: `${tp.ordersSubjectPrefix}.v1.>` }), 'orders are link-issuer\'s to consume')
  t.equal(await messageCount(setup, tp.eventsStream), 1)
  t.equal(await messageCount(setup, tp.ordersStream), 0)
})

t.test('event-recorder\'s user should consume and ack the events stream and publish no event', async (t) => {
  const a = await startAuthServer(t)
  const { recorder, issuer, setup } = await declareAll(a)
  const { topology: tp } = a
  await createEventPublisher({ js: issuer.js, subjectPrefix: tp.eventsSubjectPrefix, registry: testRegistry }).publish([credit('payment-link.lnk_rec000000001'), credit('payment-link.lnk_rec000000002')])

  await resetConsumer(recorder.jsm, { stream: tp.eventsStream, durable: tp.recorderDurable, filterSubject: `${tp.eventsSubjectPrefix}.>`, ackPolicy: 'all', startAt: { sequence: 1 } })
  const seen: number[] = []
  const loop = await startConsumerLoop({ consumer: await recorder.js.consumers.get(tp.eventsStream, tp.recorderDurable), handler: async (msg) => { seen.push(msg.seq); return ack() } })
  t.teardown(() => loop.stop())
  while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 20))
  await loop.stop()
  t.same(seen, [1, 2])
  t.equal((await setup.jsm.consumers.info(tp.eventsStream, tp.recorderDurable)).num_ack_pending, 0, 'acks were accepted')
  t.equal((await recorder.jsm.streams.getMessage(tp.eventsStream, { seq: 1 }))?.seq, 1, 'the lag metric reads a message')

  await t.rejects(publishForgery(recorder, tp.eventsSubjectPrefix), 'the recorder publishes no event')
  await t.rejects(ensureConsumer(recorder.jsm, { stream: tp.ordersStream, durable: tp.ordersDurable, filterSubject: `${tp.ordersSubjectPrefix}.v1.>` }), 'orders are not the recorder\'s')
  t.equal(await messageCount(setup, tp.eventsStream), 2)
})

t.test('the projector\'s user should publish integration events and no domain event', async (t) => {
  const a = await startAuthServer(t)
  const { projector, setup } = await declareAll(a)
  const { topology: tp } = a
  await projector.js.publish(`${tp.integrationSubjectPrefix}.v1.link.issued.mer_alpha0001`, '{}', { msgID: 'i-1', timeout: 1500 })
  await t.rejects(publishForgery(projector, tp.eventsSubjectPrefix), 'domain events are refused')
  await t.rejects(projector.js.publish(`${tp.ordersSubjectPrefix}.v1.mer_alpha0001`, '{}', { timeout: 1500 }), 'orders are refused')
  t.equal(await messageCount(setup, tp.integrationStream), 1)
  t.equal(await messageCount(setup, tp.eventsStream), 0)
})

t.test('natsAuthConfig should refuse names that would widen a permission or break the file', async (t) => {
  for (const merchantId of ['mer_a.>', 'mer_*', 'mer_a b']) {
    t.throws(() => orderSystemPermissions('ord_x', merchantId, defaultNatsTopology), /single subject token/, merchantId)
  }
  t.throws(() => natsAuthConfig({ users: [{ user: 'a"b', password: 'x', permissions: orderSystemPermissions('ord_x', 'mer_abcdef', defaultNatsTopology) }] }), /letters, digits/)
  const twice = { user: 'ord_x', password: 'x', permissions: orderSystemPermissions('ord_x', 'mer_abcdef', defaultNatsTopology) }
  t.throws(() => natsAuthConfig({ users: [twice, twice] }), /listed twice/)
})
