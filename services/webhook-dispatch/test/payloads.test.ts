import { randomUUID } from 'node:crypto'
import t from 'tap'
import { evolveView, PAYMENT_LINK_REFUNDED, toPartnerEvent, type LinkView } from '../src/payloads.js'

const at = '2026-11-30T10:00:00.000Z'
const ev = (type: string, data: Record<string, unknown>): { id: string, type: string, data: Record<string, unknown>, occurredAt: string } => ({ id: randomUUID(), type, data, occurredAt: at })
const linkId = 'lnk_payloads0001'
const amount = { value: 5000, currencyCode: 'GBP' }

/** Fold a history, collecting the partner events it makes. */
function run (events: Array<ReturnType<typeof ev>>): Array<{ type: string, data: any, id: string }> {
  let view: LinkView | undefined
  const out: Array<{ type: string, data: any, id: string }> = []
  for (const e of events) {
    const next = evolveView(view, e)
    const partner = toPartnerEvent(e, view, next)
    if (partner !== undefined) out.push({ type: partner.type, data: partner.payload.data, id: partner.payload.id })
    view = next
  }
  return out
}

const requested = (): ReturnType<typeof ev> => ev('payment-link.requested', { linkId, merchantId: 'mer_payloads1', reference: 'ref-1', amount, expiresAt: at, sendEmail: false, source: 'api', customer: { id: 'cus_abcdefghijklmnop', plain: { email: 'a@b.example' } } })
const issued = (): ReturnType<typeof ev> => ev('payment-link.issued', { linkId, merchantId: 'mer_payloads1', paymentIntentId: 'pi_sandbox_abcdefghijkl', url: 'https://pay.example/x', expiresAt: at })
const status = (from: string, to: string, refundedAmount = 0): ReturnType<typeof ev> => ev('payment-link.status-changed', { linkId, paymentIntentId: 'pi_sandbox_abcdefghijkl', from, to, dojoStatus: 'x', amount, capturedAmount: 5000, refundedAmount, source: 'webhook', observedAt: at })
// The money work's event, by its field names: this build knows it by type only.
const refunded = (refundId: string, value: number, total: number): ReturnType<typeof ev> => ev(PAYMENT_LINK_REFUNDED, { linkId, paymentIntentId: 'pi_sandbox_abcdefghijkl', refundId, amount: { value, currencyCode: 'GBP' }, refundedAmount: total, source: 'api', observedAt: at })

t.test('toPartnerEvent should map payment-link.refunded (partial, then full) to payment_link.refunded with the refund and the total', async (t) => {
  const events = [requested(), issued(), status('issued', 'paid'), refunded('ref_1', 2000, 2000), refunded('ref_2', 3000, 5000)]
  const out = run(events)
  t.same(out.map((o) => o.type), ['payment_link.issued', 'payment_link.paid', 'payment_link.refunded', 'payment_link.refunded'])
  t.match(out[2]!.data, { linkId, reference: 'ref-1', status: 'partially_refunded', refundedAmount: 2000, refund: { refundId: 'ref_1', amount: { value: 2000 } }, amount })
  t.match(out[3]!.data, { status: 'refunded', refundedAmount: 5000, refund: { refundId: 'ref_2', amount: { value: 3000 } } })
  t.equal(out[3]!.id, events[4]!.id, 'the payload id is the store event id')
  t.notMatch(JSON.stringify(out), /a@b\.example|cus_/, 'no customer data')
})

t.test('toPartnerEvent should not send a refund twice when refund events and a status report both say it', async (t) => {
  const out = run([requested(), issued(), status('issued', 'paid'), refunded('ref_1', 5000, 5000), status('paid', 'refunded', 5000)])
  t.same(out.map((o) => o.type), ['payment_link.issued', 'payment_link.paid', 'payment_link.refunded'])
})

t.test('toPartnerEvent should map a refund reported only by status (as webhook-ingest does today)', async (t) => {
  const out = run([requested(), issued(), status('issued', 'paid'), status('paid', 'refunded', 5000)])
  t.match(out[2], { type: 'payment_link.refunded', data: { status: 'refunded', refundedAmount: 5000 } })
})

t.test('toPartnerEvent should map issued, paid, canceled, expired and failed, and nothing for a late or repeated report', async (t) => {
  t.same(run([requested(), issued(), status('issued', 'expired'), status('issued', 'paid')]).map((o) => o.type), ['payment_link.issued', 'payment_link.expired'], 'a payment reported after expiry moves nothing')
  t.same(run([requested(), issued(), ev('payment-link.canceled', { linkId }), ev('payment-link.canceled', { linkId })]).map((o) => o.type), ['payment_link.issued', 'payment_link.canceled'])
  t.same(run([requested(), issued(), status('issued', 'paid'), status('issued', 'paid')]).map((o) => o.type), ['payment_link.issued', 'payment_link.paid'])
  const failed = run([requested(), ev('payment-link.issue-failed', { linkId, merchantId: 'mer_payloads1', reason: 'Dojo said no', code: 'DOJO_REQUEST', retryable: true }), ev('payment-link.issue-failed', { linkId, merchantId: 'mer_payloads1', reason: 'Dojo said no', code: 'DOJO_REQUEST', retryable: false })])
  t.same(failed.map((o) => o.type), ['payment_link.failed'], 'only a non-retryable failure fails the link')
  t.match(failed[0]!.data, { status: 'failed', failure: { code: 'DOJO_REQUEST' } })
  t.notMatch(JSON.stringify(failed[0]!.data), /Dojo said no/, 'Dojo\'s message is not sent on')
  t.same(run([issued(), status('issued', 'paid')]), [], 'events of a link never requested make nothing')
})

t.test('toPartnerEvent should send a Manual link\'s first capture as payment_link.paid, and later partial captures as nothing', async (t) => {
  const captured = (captureId: string, value: number, total: number): ReturnType<typeof ev> => ev('payment-link.captured', { linkId, paymentIntentId: 'pi_sandbox_abcdefghijkl', captureId, amount: { value, currencyCode: 'GBP' }, capturedAmount: total, source: 'api', observedAt: at })
  const out = run([requested(), issued(), status('issued', 'authorized'), captured('cap_1', 2000, 2000), captured('cap_2', 3000, 5000)])
  t.same(out.map((o) => o.type), ['payment_link.issued', 'payment_link.paid'])
  t.match(out[1]!.data, { status: 'captured', capturedAmount: 2000 })
})
