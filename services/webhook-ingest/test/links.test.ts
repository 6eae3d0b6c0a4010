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

t.test('applyEvents should mark an issued link canceled and settled on its cancel', async (t) => {
  const linkId = 'lnk_wilinks_cancel00001'
  const paymentIntentId = 'pi_sandbox_wilinks_canc01'
  const issued = recorded('payment-link.issued', { linkId, merchantId: 'mer_wilinks', paymentIntentId, url: 'https://pay.example/y', expiresAt: new Date(Date.now() + 86_400_000).toISOString() })
  await applyEvents(db, [issued], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'issued', settled: false })
  await applyEvents(db, [recorded('payment-link.canceled', { linkId })], { quietAfterMs: 60_000 })
  t.match(await db.selectFrom('wi_links').select(['status', 'settled']).where('link_id', '=', linkId).executeTakeFirstOrThrow(), { status: 'canceled', settled: true })
})
