import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { Type } from '@sinclair/typebox'
import { ContractErrorCodes, defineEvent, paymentLinkEvents, PaymentLinkStatusChanged, paymentLinkStream, type NewEvent } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES, listParked, record, type EventStore, type EventStoreTables } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { encodeEvent, subjectFor } from '@paylinks/messaging'
import { onTeardown, roleUrl, type TestContext } from '@paylinks/test-kit'
import { payments } from '../src/projections/payments.js'
import type { Projection } from '../src/projections/projection.js'
import { ProjectionRunner, subscriberName } from '../src/projections/runner.js'
import { buildProjector, createWorld, registry } from './helpers.js'

const merchantId = 'mer_trust01'
const byIssuer = { correlationId: 'trust', producer: 'link-issuer' }
const byIngest = { correlationId: 'trust', producer: 'webhook-ingest' }
const newLinkId = (): string => `lnk_${randomBytes(12).toString('base64url')}`

function issuedLink (linkId: string): NewEvent[] {
  const streamId = paymentLinkStream(linkId)
  return [
    registry.create('payment-link.requested', {
      linkId, merchantId, reference: `ref-${linkId.slice(-8)}`, amount: { value: 2599, currencyCode: 'GBP' }, expiresAt: '2030-01-01T00:00:00.000Z', sendEmail: false, source: 'api'
    }, { streamId, metadata: byIssuer }),
    registry.create('payment-link.issued', {
      linkId, merchantId, paymentIntentId: 'pi_sandbox_trust000000001', url: 'https://pay.example/pi_sandbox_trust000000001', expiresAt: '2030-01-01T00:00:00.000Z'
    }, { streamId, metadata: byIssuer })
  ]
}

function paid (linkId: string, metadata: { correlationId: string, producer: string }): NewEvent {
  return registry.create('payment-link.status-changed', {
    linkId,
    paymentIntentId: 'pi_sandbox_trust000000001',
    from: 'issued',
    to: 'paid',
    dojoStatus: 'Captured',
    amount: { value: 2599, currencyCode: 'GBP' },
    capturedAmount: 2599,
    refundedAmount: 0,
    source: 'webhook',
    observedAt: '2026-11-27T12:00:00.000Z'
  }, { streamId: paymentLinkStream(linkId), metadata })
}

async function until (predicate: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const link = async (store: EventStore, linkId: string): Promise<{ status: string, paid_at: Date | null, sent_at: Date | null } | undefined> =>
  (await sql<{ status: string, paid_at: Date | null, sent_at: Date | null }>`SELECT status, paid_at, sent_at FROM analytics.payments WHERE link_id = ${linkId}`.execute(store.db)).rows[0]

t.test('a forged status change should be dead-lettered by the recorder and never change the payments projection', async (t) => {
  const world = await createWorld(t)
  await buildProjector(t, world.env)
  const linkId = newLinkId()
  const acks = await world.publisher.publish(issuedLink(linkId), { expectedLastSubjectSequence: 0 })
  // Straight onto the subject, as any client that reaches NATS could: well formed, wrong producer.
  const forged = paid(linkId, { correlationId: 'forged', producer: 'order-system' })
  const forgedAck = await world.messaging.js.publish(subjectFor(world.env.EVENTS_SUBJECT_PREFIX!, forged.streamId), encodeEvent(forged), { msgID: forged.id })
  const [sent] = await world.publisher.publish([registry.create('payment-link.sent', { linkId, channel: 'email' }, { streamId: paymentLinkStream(linkId), metadata: byIssuer })])
  // The views appear once the first generation has caught up and swapped in.
  await until(async () => (await link(world.store, linkId).catch(() => undefined))?.sent_at != null)

  t.match(await link(world.store, linkId), { status: 'issued', paid_at: null }, 'the link is not paid')
  const timeline = await sql<{ type: string }>`SELECT type FROM analytics.payment_timeline WHERE link_id = ${linkId} ORDER BY position`.execute(world.store.db)
  t.same(timeline.rows.map((r) => r.type), ['payment-link.requested', 'payment-link.issued', 'payment-link.sent'])
  t.same((await world.store.readStream(paymentLinkStream(linkId))).map((e) => e.position), [acks[0]!.seq, acks[1]!.seq, sent!.seq], 'the store never had it')
  // Dead letters are the recorder's to write and read (the projector's role may not).
  const recorderDb = createDatabase<EventStoreTables>({ connectionString: roleUrl(world.env.DATABASE_URL!, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorderDb.destroy())
  const letters = await recorderDb.selectFrom('es_dead_letters').select(['position', 'kind', 'reason']).execute()
  t.match(letters, [{ position: forgedAck.seq, kind: 'producer-not-allowed', reason: /names producer 'order-system'; allowed: webhook-ingest/ }])
})

// The next release's status change also says why; this projector is not upgraded yet.
const StatusChangedV3 = defineEvent(PaymentLinkStatusChanged.type, Type.Object({ ...PaymentLinkStatusChanged.schema.properties, note: Type.String() }, { additionalProperties: false }), {
  version: 3,
  upcasters: { ...PaymentLinkStatusChanged.upcasters, 2: (data) => ({ ...data, note: '' }) }
})

async function storeOf (t: TestContext): Promise<EventStore> {
  const { url } = await createMigratedTestDatabase(t)
  const store = await createEventStore({ connectionString: url, registry, pollIntervalMs: 100 })
  onTeardown(t, () => store.close())
  return store
}

function runner (t: TestContext, store: EventStore, projection: Projection): ProjectionRunner {
  const r = new ProjectionRunner({ store, projections: [projection], intervalMs: 50 })
  onTeardown(t, () => r.stop())
  return r
}

t.test('a projection meeting a newer event version should park it, keep projecting, and apply it on replay once it knows that version', async (t) => {
  const store = await storeOf(t)
  const [a, b, c] = [newLinkId(), newLinkId(), newLinkId()]
  const v1 = paid(a, byIngest)
  const newer = { ...v1, schemaVersion: 3, data: { ...v1.data, note: 'captured at the till' } } // from an upgraded webhook-ingest
  let position = 0
  const at = (events: NewEvent[]): Array<{ position: number, event: NewEvent }> => events.map((event) => ({ position: ++position, event }))
  await record(store.db, at([...issuedLink(a), newer, ...issuedLink(b), paid(b, byIngest)]))

  const old = runner(t, store, payments)
  old.start()
  const caughtUp = async (r: ProjectionRunner): Promise<boolean> => { const s = (await r.status())[0]; return s?.active !== undefined && s.active.position === s.head }
  await until(async () => await caughtUp(old))
  t.match(await link(store, a), { status: 'issued', paid_at: null }, 'the unreadable event is not applied')
  t.match(await link(store, b), { status: 'paid' }, 'the events after it are')
  const parked = await listParked(store.db)
  t.match(parked, [{ subscriber: subscriberName('payments', 1), position: 3, eventId: newer.id, schemaVersion: 3, code: ContractErrorCodes.unsupportedVersion }])

  await record(store.db, at(issuedLink(c)))
  await until(async () => await caughtUp(old))
  t.match(await link(store, c), { status: 'issued' }, 'and it keeps projecting what comes next')
  t.same((await old.replayParked('payments'))[0]?.stillParked.map((p) => p.position), [3], 'the old code still cannot read it')
  await old.stop()

  const upgraded: Projection = { ...payments, events: paymentLinkEvents.map((d) => d.type === StatusChangedV3.type ? StatusChangedV3 : d) }
  const next = runner(t, store, upgraded)
  const [replay] = await next.replayParked('payments')
  t.same(replay?.replayed.map((p) => p.position), [3])
  const replayed = await link(store, a)
  t.equal(replayed?.status, 'paid', 'the upgraded projection applied it')
  t.equal(replayed?.paid_at?.toISOString(), new Date(newer.occurredAt).toISOString(), 'with the event\'s own time')
  t.same(await listParked(store.db), [], 'nothing waits any more')
})
