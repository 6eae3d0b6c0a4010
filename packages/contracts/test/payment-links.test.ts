import t from 'tap'
import { createEventRegistry, domainEvents, foldLinkStatus, isForwardMove, LINK_STATUS_MOVES, paymentLinkStream, type LinkStatus } from '../src/index.js'

const registry = createEventRegistry(domainEvents)
const metadata = { correlationId: 'c' }

t.test('isForwardMove should let status only move forward', async (t) => {
  t.ok(isForwardMove('issued', 'paid'))
  t.ok(isForwardMove('paid', 'refunded'))
  t.notOk(isForwardMove('paid', 'issued'), 'a late Created webhook never moves a paid link back')
  t.notOk(isForwardMove('refunded', 'paid'))
  t.notOk(isForwardMove('paid', 'paid'), 'the same status is not a move')
  const terminal = (Object.keys(LINK_STATUS_MOVES) as LinkStatus[]).filter((s) => LINK_STATUS_MOVES[s].length === 0)
  t.same(terminal.sort(), ['canceled', 'expired', 'failed', 'refunded', 'reversed'])
})

t.test('payment-link events should validate money, ids and references', async (t) => {
  const linkId = 'lnk_abcdefghij1234567890ab'
  const ok = registry.create('payment-link.requested', {
    linkId,
    merchantId: 'mer_demo01',
    reference: 'order-1',
    amount: { value: 1050, currencyCode: 'GBP' },
    expiresAt: '2026-12-27T12:00:00.000Z',
    sendEmail: false,
    source: 'api'
  }, { streamId: paymentLinkStream(linkId), metadata })
  t.equal(ok.streamId, `payment-link.${linkId}`)
  t.throws(() => registry.create('payment-link.requested', {
    linkId,
    merchantId: 'mer_demo01',
    reference: 'x'.repeat(61),
    amount: { value: 0, currencyCode: 'USD' as 'GBP' },
    expiresAt: 'tomorrow',
    sendEmail: false,
    source: 'api'
  }, { streamId: paymentLinkStream(linkId), metadata }), { code: 'CONTRACT_INVALID_DATA', message: /\/reference|\/amount|\/expiresAt/ })
})

t.test('foldLinkStatus should give every service the same status for a history', async (t) => {
  const e = (type: string, data: Record<string, unknown> = {}) => ({ type, data })
  t.equal(foldLinkStatus([]), undefined)
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issue-failed', { retryable: true })]), 'requested')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issue-failed', { retryable: false })]), 'failed')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.sent'), e('payment-link.canceled')]), 'canceled')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.status-changed', { to: 'paid' }), e('payment-link.canceled')]), 'paid', 'a paid link cannot be canceled')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.webhook-received'), e('payment-link.status-changed', { to: 'paid' })]), 'paid')
})
