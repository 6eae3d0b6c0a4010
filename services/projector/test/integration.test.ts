import t from 'tap'
import type { NewEvent } from '@paylinks/contracts'
import { linkFacts, onTeardown, statusChanged, testLinkId, until } from '@paylinks/test-kit'
import { buildProjector, createWorld, registry, type World } from './helpers.js'

const merchantId = 'mer_shop001'
// As its owner publishes it: the recorder refuses a type from another producer.
const meta = { correlationId: 'test', producer: 'link-issuer' }
const linkId = testLinkId
const linkEvents = (id: string, orderId?: string): { requested: NewEvent, issued: NewEvent } => linkFacts(id, { merchantId, ...(orderId === undefined ? {} : { orderId }) })

/** What an order system subscribed to `<prefix>.v1.>` receives, in order. */
async function orderSystem (t: Tap, world: World): Promise<Array<{ subject: string, msgId: string | undefined, body: Record<string, any> }>> {
  const received: Array<{ subject: string, msgId: string | undefined, body: Record<string, any> }> = []
  const consumer = await world.messaging.js.consumers.get(world.env.INTEGRATION_STREAM!)
  const messages = await consumer.consume()
  onTeardown(t, async () => { await messages.close() })
  void (async () => {
    for await (const m of messages) received.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), body: m.json() })
  })()
  return received
}
type Tap = Parameters<typeof createWorld>[0]

t.test('the projector should publish link.issued, payment.status-changed and order.rejected from recorded events', async (t) => {
  const world = await createWorld(t)
  await buildProjector(t, world.env)
  const received = await orderSystem(t, world)
  const a = linkId()
  const { requested, issued } = linkEvents(a, 'order-77')
  const acks = await world.publisher.publish([requested, issued], { expectedLastSubjectSequence: 0 })
  await world.publisher.publish([statusChanged(a, 'issued', 'paid')], { expectedLastSubjectSequence: acks[1]!.seq })
  const rejected = registry.create('order.rejected', { orderId: 'order-78', merchantId, reason: 'amount must be a positive integer', problems: ['/amount/value: Expected integer'] }, { streamId: 'order.mer_shop001-order-78', metadata: meta })
  await world.publisher.publish([rejected])
  await until(() => received.length === 3)
  const prefix = world.env.INTEGRATION_SUBJECT_PREFIX!
  t.same(received.map((r) => r.subject), [`${prefix}.v1.link.issued.${merchantId}`, `${prefix}.v1.payment.status-changed.${merchantId}`, `${prefix}.v1.order.rejected.${merchantId}`])
  t.match(received[0]!.body, { type: 'link.issued', version: 1, id: issued.id, linkId: a, orderId: 'order-77', reference: requested.data.reference, amount: { value: 2599, currencyCode: 'GBP' }, url: issued.data.url })
  t.equal(received[0]!.msgId, issued.id, 'the source event id is the message id')
  t.match(received[1]!.body, { type: 'payment.status-changed', previousStatus: 'issued', status: 'paid', orderId: 'order-77', refundedAmount: 0 })
  t.match(received[2]!.body, { type: 'order.rejected', orderId: 'order-78', reason: 'amount must be a positive integer' })
})

t.test('the projector should carry on from its checkpoint after a restart, publishing nothing twice', async (t) => {
  const world = await createWorld(t)
  const first = await buildProjector(t, world.env)
  const received = await orderSystem(t, world)
  const a = linkId()
  const { requested, issued } = linkEvents(a)
  const acks = await world.publisher.publish([requested, issued], { expectedLastSubjectSequence: 0 })
  await until(() => received.length === 1)
  await first.close()
  const paid = await world.publisher.publish([statusChanged(a, 'issued', 'paid')], { expectedLastSubjectSequence: acks[1]!.seq })
  await world.publisher.publish([statusChanged(a, 'paid', 'refunded', 2599)], { expectedLastSubjectSequence: paid[0]!.seq })
  const second = await buildProjector(t, world.env)
  await until(() => received.length === 3)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(received.length, 3, 'nothing was published twice')
  t.same(received.map((r) => r.body.status ?? r.body.type), ['link.issued', 'paid', 'refunded'])
  t.match(received[2]!.body, { previousStatus: 'paid', refundedAmount: 2599 })
  const metrics = (await second.inject('/metrics')).body
  t.match(metrics, /projector_lag_events\{subscriber="integration"\} 0/)
  t.match(metrics, /projector_integration_events_published_total\{kind="payment.status-changed"\} 2/)
})
