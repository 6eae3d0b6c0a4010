import t from 'tap'
import type { PaymentIntent } from '@paylinks/dojo-client'
import { uuidV5, webhookEventId } from '../src/ids.js'
import { forwardPath } from '@paylinks/contracts'
import { capturedAmountOf, linkStatusFor } from '../src/status.js'

const intent = (status: PaymentIntent['status'], extra: Partial<PaymentIntent> = {}): PaymentIntent =>
  ({ id: 'pi_sandbox_abcdefghijklmnopqrstuv', status, amount: { value: 1000, currencyCode: 'GBP' }, createdAt: new Date().toISOString(), ...extra })

t.test('linkStatusFor should map every Dojo status, telling expiry from cancellation', async (t) => {
  const now = new Date('2026-01-01T12:00:00Z')
  t.equal(linkStatusFor(intent('Created'), now), 'issued')
  t.equal(linkStatusFor(intent('Authorized'), now), 'authorized')
  t.equal(linkStatusFor(intent('Captured'), now), 'paid')
  t.equal(linkStatusFor(intent('Refunded'), now), 'refunded')
  t.equal(linkStatusFor(intent('Reversed'), now), 'reversed')
  t.equal(linkStatusFor(intent('Canceled', { expireAt: '2026-01-01T11:00:00Z' }), now), 'expired')
  t.equal(linkStatusFor(intent('Canceled', { expireAt: '2026-01-02T11:00:00Z' }), now), 'canceled')
})

t.test('forwardPath should only move forward, through the statuses a lost webhook skipped', async (t) => {
  t.same(forwardPath('issued', 'paid'), ['paid'])
  t.same(forwardPath('issued', 'refunded'), ['paid', 'refunded'])
  t.same(forwardPath('authorized', 'refunded'), ['paid', 'refunded'])
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
