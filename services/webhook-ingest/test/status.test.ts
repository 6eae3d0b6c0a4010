import t from 'tap'
import type { PaymentIntent } from '@paylinks/dojo-client'
import { uuidV5, webhookEventId } from '../src/ids.js'
import { forwardPath } from '@paylinks/contracts'
import { capturedAmountOf, linkStatusFor, moneyMoves } from '../src/status.js'

const intent = (status: PaymentIntent['status'], extra: Partial<PaymentIntent> = {}): PaymentIntent =>
  ({ id: 'pi_sandbox_abcdefghijklmnopqrstuv', status, amount: { value: 1000, currencyCode: 'GBP' }, createdAt: new Date().toISOString(), ...extra })

t.test('linkStatusFor should map every Dojo status, telling expiry from cancellation', async (t) => {
  const now = new Date('2026-01-01T12:00:00Z')
  t.equal(linkStatusFor(intent('Created'), now), 'issued')
  t.equal(linkStatusFor(intent('Authorized'), now), 'authorized')
  t.equal(linkStatusFor(intent('Captured'), now), 'paid')
  t.equal(linkStatusFor(intent('Captured', { captureMode: 'Manual' }), now), 'authorized', 'a Manual capture is an event of its own')
  t.equal(linkStatusFor(intent('Refunded'), now), 'paid', 'refunds are events of their own')
  t.equal(linkStatusFor(intent('Reversed'), now), 'released')
  t.equal(linkStatusFor(intent('Canceled', { expireAt: '2026-01-01T11:00:00Z' }), now), 'expired')
  t.equal(linkStatusFor(intent('Canceled', { expireAt: '2026-01-02T11:00:00Z' }), now), 'canceled')
})

t.test('forwardPath should only move forward, through the statuses a lost webhook skipped', async (t) => {
  t.same(forwardPath('issued', 'paid'), ['paid'])
  t.same(forwardPath('issued', 'refunded'), ['paid', 'refunded'])
  t.same(forwardPath('authorized', 'refunded'), ['captured', 'refunded'])
  t.same(forwardPath('paid', 'authorized'), [], 'a late authorisation never moves a paid link back')
  t.same(forwardPath('refunded', 'paid'), [])
  t.same(forwardPath('paid', 'paid'), [])
  t.same(forwardPath('issued', 'issued'), [])
  t.same(forwardPath('canceled', 'paid'), [])
})

t.test('capturedAmountOf should add up captures, or take the whole amount once captured', async (t) => {
  t.equal(capturedAmountOf(intent('Created')), 0)
  t.equal(capturedAmountOf(intent('Captured')), 1000)
  t.equal(capturedAmountOf(intent('Captured', { captures: [{ amount: 400, status: 'Successful' }, { amount: 600 }] })), 1000)
})

t.test('uuidV5 should be deterministic and well-formed', async (t) => {
  t.equal(webhookEventId('evt_1'), webhookEventId('evt_1'))
  t.not(webhookEventId('evt_1'), webhookEventId('evt_2'))
  t.match(uuidV5('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
})

t.test('moneyMoves should record each capture Dojo lists once, and refunds Dojo is ahead of us on', async (t) => {
  const none = { capturedAmount: 0, refundedAmount: 0, captureIds: [] as string[] }
  const manual = intent('Captured', { captureMode: 'Manual', captures: [{ id: 'cp_1', amount: 400, status: 'Successful' }, { id: 'cp_2', amount: 600, status: 'Successful' }] })
  t.same(moneyMoves({ ...none, status: 'authorized' }, 'authorized', manual), [
    { kind: 'captured', captureId: 'cp_1', amount: 400, capturedAmount: 400 },
    { kind: 'captured', captureId: 'cp_2', amount: 600, capturedAmount: 1000 }
  ])
  t.same(moneyMoves({ status: 'captured', capturedAmount: 400, refundedAmount: 0, captureIds: ['cp_1'] }, 'captured', manual), [
    { kind: 'captured', captureId: 'cp_2', amount: 600, capturedAmount: 1000 }
  ], 'a capture recorded (by our API) is not recorded again')
  t.same(moneyMoves({ ...none, status: 'paid', capturedAmount: 1000 }, 'paid', intent('Captured', { refundedAmount: 250 })), [
    { kind: 'refunded', refundId: 'dojo-refunded-250', amount: 250, refundedAmount: 250, capturedAmount: 1000 }
  ], 'a refund made at Dojo\'s portal')
  t.same(moneyMoves({ ...none, status: 'partially_refunded', capturedAmount: 1000, refundedAmount: 250 }, 'partially_refunded', intent('Refunded', { refundedAmount: 1000 })), [
    { kind: 'refunded', refundId: 'dojo-refunded-1000', amount: 750, refundedAmount: 1000, capturedAmount: 1000 }
  ])
  t.same(moneyMoves({ ...none, status: 'paid', capturedAmount: 1000, refundedAmount: 250 }, 'paid', intent('Captured', { refundedAmount: 250 })), [], 'nothing Dojo is not ahead on')
  t.same(moneyMoves({ ...none, status: 'issued' }, 'issued', intent('Created')), [])
})
