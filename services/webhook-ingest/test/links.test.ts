import t from 'tap'
import { type Kysely } from 'kysely'
import { paymentLinkStream, type RecordedEvent } from '@paylinks/contracts'
import { createDatabase } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown } from '@paylinks/test-kit'
import { applyEvents } from '../src/links.js'
import type { Tables } from '../src/tables.js'
import { registry } from './helpers.js'

const { url } = await createMigratedTestDatabase(t)
const db = createDatabase({ connectionString: url, max: 2 }) as unknown as Kysely<Tables>
onTeardown(t, () => db.destroy())

let position = 0
function recorded (type: string, data: Record<string, unknown>): RecordedEvent {
  const event = registry.create(type as never, data as never, { streamId: paymentLinkStream(data.linkId as string), metadata: { correlationId: 'links-test' } })
  return { ...event, position: ++position, streamVersion: position, recordedAt: event.occurredAt }
}
const changed = (linkId: string, paymentIntentId: string, from: string, to: string): RecordedEvent => recorded('payment-link.status-changed', {
  linkId, paymentIntentId, from, to, dojoStatus: 'Captured', amount: { value: 100, currencyCode: 'GBP' }, capturedAmount: 100, refundedAmount: 0, source: 'webhook', observedAt: new Date().toISOString()
})

t.test('applyEvents should move wi_links by the contracts\' status rule: a late cancel leaves a paid link paid, refunds move it on', async (t) => {
  const linkId = 'lnk_wilinks_latecancel01'
  const paymentIntentId = 'pi_sandbox_wilinks_late01'
  const issued = recorded('payment-link.issued', { linkId, merchantId: 'mer_wilinks', paymentIntentId, url: 'https://pay.example/x', expiresAt: new Date(Date.now() + 86_400_000).toISOString() })
  await applyEvents(db, [issued, changed(linkId, paymentIntentId, 'issued', 'paid')], { quietAfterMs: 60_000 })
  await applyEvents(db, [recorded('payment-link.canceled', { linkId }), changed(linkId, paymentIntentId, 'paid', 'authorized')], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'paid', settled: false }, 'a paid link is still checked: it may be refunded at Dojo')
  const refund = (refundId: string, refundedAmount: number): RecordedEvent => recorded('payment-link.refunded', {
    linkId, paymentIntentId, refundId, amount: { value: 50, currencyCode: 'GBP' }, refundedAmount, capturedAmount: 100, source: 'api', observedAt: new Date().toISOString()
  })
  await applyEvents(db, [refund('rfnd_1', 50)], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'partially_refunded', settled: false })
  await applyEvents(db, [refund('rfnd_2', 100)], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'refunded', settled: true })
})

t.test('applyEvents should apply a batch\'s status moves of many links, several of one link in log order', async (t) => {
  const ids = ['lnk_wilinks_batchmoves1', 'lnk_wilinks_batchmoves2'] as const
  const intents = ['pi_sandbox_wilinks_batch1', 'pi_sandbox_wilinks_batch2'] as const
  const issue = (i: 0 | 1): RecordedEvent => recorded('payment-link.issued', { linkId: ids[i], merchantId: 'mer_wilinks', paymentIntentId: intents[i], url: 'https://pay.example/b', expiresAt: new Date(Date.now() + 86_400_000).toISOString() })
  const refund = (refundId: string, refundedAmount: number): RecordedEvent => recorded('payment-link.refunded', {
    linkId: ids[0], paymentIntentId: intents[0], refundId, amount: { value: 50, currencyCode: 'GBP' }, refundedAmount, capturedAmount: 100, source: 'api', observedAt: new Date().toISOString()
  })
  const statuses = async (): Promise<Array<{ status: string, settled: boolean }>> =>
    await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', 'in', [...ids]).orderBy('link_id').execute()
  // Link 0 moves three times in the batch (issued → paid → partially refunded → refunded): only in that order does it end refunded.
  await applyEvents(db, [issue(0), issue(1), changed(ids[0], intents[0], 'issued', 'paid'), changed(ids[1], intents[1], 'issued', 'paid'), refund('rfnd_b1', 50), refund('rfnd_b2', 100)], { quietAfterMs: 60_000 })
  t.same(await statuses(), [{ status: 'refunded', settled: true }, { status: 'paid', settled: false }])
  await applyEvents(db, [recorded('payment-link.canceled', { linkId: ids[1] }), changed(ids[1], intents[1], 'paid', 'authorized')], { quietAfterMs: 60_000 })
  t.same(await statuses(), [{ status: 'refunded', settled: true }, { status: 'paid', settled: false }], 'late moves change nothing')
})

t.test('applyEvents should mark an issued link canceled and settled on its cancel', async (t) => {
  const linkId = 'lnk_wilinks_cancel00001'
  const paymentIntentId = 'pi_sandbox_wilinks_canc01'
  const issued = recorded('payment-link.issued', { linkId, merchantId: 'mer_wilinks', paymentIntentId, url: 'https://pay.example/y', expiresAt: new Date(Date.now() + 86_400_000).toISOString() })
  await applyEvents(db, [issued], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'issued', settled: false })
  await applyEvents(db, [recorded('payment-link.canceled', { linkId })], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'canceled', settled: true })
})

t.test('applyEvents should queue one confirmation per intent while it is unclaimed, and a new one for a delivery after a claim', async (t) => {
  const linkId = 'lnk_wilinks_queue000001'
  const paymentIntentId = 'pi_sandbox_wilinks_queue1'
  const delivery = (n: number): RecordedEvent => recorded('payment-link.webhook-received', {
    linkId, paymentIntentId, dojoEventId: `evt_queue_${n}`, event: 'payment_intent.status_updated', paymentStatus: 'Captured', receivedAt: new Date().toISOString()
  })
  const queued = async (): Promise<Array<{ cause_event_id: string | null, attempts: number }>> =>
    await db.selectFrom('wi_confirmations').select(['cause_event_id', 'attempts']).where('payment_intent_id', '=', paymentIntentId).orderBy('received_at').orderBy('key').execute()
  const first = delivery(1)
  await applyEvents(db, [first, delivery(2)], { quietAfterMs: 60_000 })
  await applyEvents(db, [delivery(3)], { quietAfterMs: 60_000 })
  t.same(await queued(), [{ cause_event_id: first.id, attempts: 0 }], 'the first delivery waits for all three: nobody has read Dojo for it yet')
  // A worker claims it (and may be reading Dojo right now): a delivery after that is queued again.
  await db.updateTable('wi_confirmations').set({ attempts: 1, next_attempt_at: new Date(Date.now() + 30_000) }).where('payment_intent_id', '=', paymentIntentId).execute()
  const fourth = delivery(4)
  await applyEvents(db, [fourth], { quietAfterMs: 60_000 })
  t.same(await queued(), [{ cause_event_id: first.id, attempts: 1 }, { cause_event_id: fourth.id, attempts: 0 }])
  // A claimed row whose lease ran out (its worker may have stalled after reading Dojo) does not count either.
  await db.updateTable('wi_confirmations').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('payment_intent_id', '=', paymentIntentId).where('attempts', '=', 1).execute()
  await db.deleteFrom('wi_confirmations').where('cause_event_id', '=', fourth.id).execute()
  const fifth = delivery(5)
  await applyEvents(db, [fifth], { quietAfterMs: 60_000 })
  t.same((await queued()).map((r) => r.cause_event_id), [first.id, fifth.id])
})
