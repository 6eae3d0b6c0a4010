import t from 'tap'
import {
  createEventRegistry, derivedCustomerId, domainEvents, evolveLink, foldLink, foldLinkStatus, forwardPath, is, isForwardMove, LINK_STATUS_MOVES, linkAmountsAfter, PaymentLinkCanceled,
  isPersonalMetadataKey, PaymentLinkIssued, PaymentLinkRequested, paymentLinkStream, type LinkStatus, type RecordedEvent
} from '../src/index.js'

const registry = createEventRegistry(domainEvents)
const metadata = { correlationId: 'c' }

t.test('isForwardMove should let status only move forward', async (t) => {
  t.ok(isForwardMove('issued', 'paid'))
  t.ok(isForwardMove('paid', 'refunded'))
  t.notOk(isForwardMove('paid', 'issued'), 'a late Created webhook never moves a paid link back')
  t.notOk(isForwardMove('refunded', 'paid'))
  t.notOk(isForwardMove('paid', 'paid'), 'the same status is not a move')
  const terminal = (Object.keys(LINK_STATUS_MOVES) as LinkStatus[]).filter((s) => LINK_STATUS_MOVES[s].length === 0)
  t.same(terminal.sort(), ['canceled', 'expired', 'failed', 'refunded', 'released'])
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

t.test('linkStatusAfter should ignore events of a link never requested, repeats and backward reports', async (t) => {
  const e = (type: string, data: Record<string, unknown> = {}) => ({ type, data })
  t.equal(foldLinkStatus([e('payment-link.issued'), e('payment-link.status-changed', { to: 'paid' })]), undefined, 'no request, no link')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.requested')]), 'issued', 'a second request changes nothing')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.issue-failed', { retryable: false })]), 'issued', 'a failure after the issue is late')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.status-changed', { to: 'paid' }), e('payment-link.status-changed', { to: 'authorized' })]), 'paid', 'a late authorisation never moves a paid link back')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.status-changed', { to: 'refunded' })]), 'issued', 'a jump over paid is not one move')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.issued'), e('payment-link.canceled'), e('payment-link.status-changed', { to: 'canceled' })]), 'canceled')
  t.equal(foldLinkStatus([e('payment-link.requested'), e('payment-link.canceled')]), 'canceled', 'a requested link can be canceled')
})

t.test('forwardPath should only move forward, through the statuses a lost report skipped', async (t) => {
  t.same(forwardPath('issued', 'paid'), ['paid'])
  t.same(forwardPath('issued', 'refunded'), ['paid', 'refunded'])
  t.same(forwardPath('issued', 'captured'), ['authorized', 'captured'])
  t.same(forwardPath('captured', 'released'), [], 'a captured Manual payment is never released')
  t.same(forwardPath('paid', 'authorized'), [])
  t.same(forwardPath('canceled', 'paid'), [])
  t.same(forwardPath('paid', 'paid'), [])
})

t.test('foldLink should give the facts of a link with the status of linkStatusAfter', async (t) => {
  const linkId = 'lnk_abcdefghij1234567890ab'
  const streamId = paymentLinkStream(linkId)
  let position = 10
  const at = (type: any, data: any, occurredAt: string): RecordedEvent =>
    ({ ...registry.create(type, data, { streamId, metadata, occurredAt: new Date(occurredAt) }), position: ++position * 3, streamVersion: 1, recordedAt: occurredAt })
  const requested = at('payment-link.requested', { linkId, merchantId: 'mer_demo01', reference: 'r-1', amount: { value: 500, currencyCode: 'GBP' }, expiresAt: '2026-12-27T12:00:00.000Z', sendEmail: true, source: 'api', customer: { id: 'cus_abcdefghij1234', sealed: 'c2VhbGVkLWJ5LXRoZS1jdXN0b21lcnMta2V5' } }, '2026-12-20T10:00:00.000Z')
  const retry = at('payment-link.issue-failed', { linkId, merchantId: 'mer_demo01', reason: 'timeout', retryable: true }, '2026-12-20T10:00:01.000Z')
  const issued = at('payment-link.issued', { linkId, merchantId: 'mer_demo01', paymentIntentId: 'pi_sandbox_abcdefghijkl', url: 'https://pay.example/checkout/x', expiresAt: '2026-12-26T12:00:00.000Z' }, '2026-12-20T10:00:02.000Z')
  const failed = at('payment-link.issue-failed', { linkId, merchantId: 'mer_demo01', reason: 'late', retryable: false }, '2026-12-20T10:00:03.000Z')
  const sent = at('payment-link.sent', { linkId, channel: 'email' }, '2026-12-20T10:00:04.000Z')
  t.equal(foldLink([]), undefined)
  t.equal(foldLink([issued]), undefined, 'a link never requested')
  const afterRetry = foldLink([requested, retry])!
  t.match(afterRetry, { status: 'requested', position: retry.position, updatedAt: retry.occurredAt })
  t.equal(afterRetry.failure, undefined, 'a retryable failure is no failure of the link')
  const state = foldLink([requested, retry, issued, failed, sent])!
  t.match(state, {
    linkId,
    merchantId: 'mer_demo01',
    reference: 'r-1',
    amount: { value: 500, currencyCode: 'GBP' },
    status: 'issued',
    paymentIntentId: 'pi_sandbox_abcdefghijkl',
    url: 'https://pay.example/checkout/x',
    expiresAt: '2026-12-26T12:00:00.000Z',
    emailSentAt: sent.occurredAt,
    createdAt: requested.occurredAt,
    updatedAt: sent.occurredAt,
    position: sent.position,
    customer: { id: 'cus_abcdefghij1234', sealed: 'c2VhbGVkLWJ5LXRoZS1jdXN0b21lcnMta2V5' }
  })
  t.equal(state.failure, undefined, 'a failure after the issue changes nothing')
  t.equal(foldLinkStatus([requested, retry, issued, failed, sent]), state.status)
  const extended = evolveLink({ ...foldLink([requested])!, extra: 42 }, issued)
  t.equal(extended.extra, 42, 'an extended state keeps its own fields')
  t.equal(extended.status, 'issued')
})

t.test('is should tell an event of a definition by its type', async (t) => {
  const event = { type: 'payment-link.canceled', data: { linkId: 'lnk_x' } as Record<string, unknown> }
  t.ok(is(event, PaymentLinkCanceled))
  t.notOk(is(event, PaymentLinkIssued))
  if (is(event, PaymentLinkCanceled)) t.equal(event.data.linkId, 'lnk_x')
})

t.test('payment-link.requested v1 should upcast its clear personal fields into customer.plain under a derived id', async (t) => {
  const linkId = 'lnk_abcdefghij1234567890ab'
  const v1 = {
    id: '7f0c3f55-3f4e-4b8e-9a43-2f1a3c1d2e10',
    type: 'payment-link.requested',
    schemaVersion: 1,
    streamId: paymentLinkStream(linkId),
    occurredAt: '2026-12-20T10:00:00.000Z',
    metadata,
    data: { linkId, merchantId: 'mer_demo01', reference: 'r-1', amount: { value: 500, currencyCode: 'GBP' }, expiresAt: '2026-12-27T12:00:00.000Z', sendEmail: false, source: 'api', customer: { email: 'Ann@Example.com', name: 'Ann' }, metadata: { cart: 'c-1', customer_phone: '+44 7700 900123' } }
  }
  const upcast = registry.parse(v1)
  t.equal(upcast.schemaVersion, PaymentLinkRequested.version)
  const id = derivedCustomerId('mer_demo01', linkId, { email: 'ann@example.com ' })
  t.same(upcast.data.customer, { id, plain: { email: 'Ann@Example.com', name: 'Ann', metadata: { customer_phone: '+44 7700 900123' } } }, 'the id follows from the normalised e-mail')
  t.same(upcast.data.metadata, { cart: 'c-1' }, 'only the fields that are not personal stay in metadata')
  const anonymous = registry.parse({ ...v1, data: { ...v1.data, customer: undefined, metadata: { cart: 'c-1' } } })
  t.equal(anonymous.data.customer, undefined, 'no personal data, no customer')
})

t.test('isPersonalMetadataKey should tell personal metadata keys by the documented rule', async (t) => {
  for (const key of ['email', 'customerEmail', 'customer_phone', 'Name', 'first-name', 'address', 'postcode', 'dob']) t.ok(isPersonalMetadataKey(key), key)
  for (const key of ['cart', 'orderRef', 'customerId', 'channel']) t.notOk(isPersonalMetadataKey(key), key)
})

t.test('refunds, captures and releases should fold into status and amounts by the one rule', async (t) => {
  const linkId = 'lnk_moneymoneymoney0001'
  const streamId = paymentLinkStream(linkId)
  const pi = 'pi_sandbox_moneymoney01'
  let position = 0
  const ev = (type: any, data: any): RecordedEvent =>
    ({ ...registry.create(type, data, { streamId, metadata }), position: ++position, streamVersion: position, recordedAt: new Date().toISOString() })
  const money = { source: 'api' as const, observedAt: '2026-12-20T10:00:00.000Z', paymentIntentId: pi, linkId }
  const requested = (captureMode?: 'Manual') => ev('payment-link.requested', { linkId, merchantId: 'mer_demo01', reference: 'r-money', amount: { value: 1000, currencyCode: 'GBP' }, expiresAt: '2026-12-27T12:00:00.000Z', sendEmail: false, source: 'api', ...(captureMode === undefined ? {} : { captureMode, autoExpireAction: 'Release' }) })
  const issued = () => ev('payment-link.issued', { linkId, merchantId: 'mer_demo01', paymentIntentId: pi, url: 'https://pay.example/checkout/x', expiresAt: '2026-12-26T12:00:00.000Z' })
  const changed = (from: string, to: string, capturedAmount: number) => ev('payment-link.status-changed', { ...money, from, to, dojoStatus: 'Captured', amount: { value: 1000, currencyCode: 'GBP' }, capturedAmount, refundedAmount: 0, source: 'webhook' })
  const refund = (refundId: string, value: number, refundedAmount: number, capturedAmount = 1000) => ev('payment-link.refunded', { ...money, refundId, amount: { value, currencyCode: 'GBP' }, refundedAmount, capturedAmount })
  const capture = (captureId: string, value: number, capturedAmount: number) => ev('payment-link.captured', { ...money, captureId, amount: { value, currencyCode: 'GBP' }, capturedAmount })

  const partial = refund('rfnd_1', 300, 300)
  const auto = [requested(), issued(), changed('issued', 'paid', 1000), partial]
  t.match(foldLink(auto), { status: 'partially_refunded', captureMode: 'Auto', capturedAmount: 1000, refundedAmount: 300, refundIds: ['rfnd_1'] })
  t.match(foldLink([...auto, partial]), { status: 'partially_refunded', refundedAmount: 300, refundIds: ['rfnd_1'] }, 'the same refund twice refunds once')
  t.match(foldLink([...auto, refund('rfnd_2', 200, 500)]), { status: 'partially_refunded', refundedAmount: 500, refundIds: ['rfnd_1', 'rfnd_2'] }, 'a second partial refund moves money, not status')
  t.match(foldLink([...auto, refund('rfnd_2', 700, 1000)]), { status: 'refunded', refundedAmount: 1000 })
  t.match(foldLink([...auto, refund('rfnd_2', 700, 1000), refund('rfnd_3', 700, 1700, 1700)]), { status: 'refunded', refundedAmount: 1000, capturedAmount: 1000 }, 'never more than the total')
  t.match(foldLink([requested(), issued(), refund('rfnd_1', 300, 300)]), { status: 'issued', refundedAmount: 0, refundIds: [] }, 'no refund before the payment')
  t.match(foldLink([...auto.slice(0, 3), ev('payment-link.released', { ...money })]), { status: 'released' }, 'an Auto payment can be released (same-day reversal)')

  const manual = [requested('Manual'), issued(), changed('issued', 'authorized', 0)]
  t.match(foldLink(manual), { status: 'authorized', captureMode: 'Manual', capturedAmount: 0 })
  const first = capture('cp_1', 400, 400)
  t.match(foldLink([...manual, first]), { status: 'captured', capturedAmount: 400, captureIds: ['cp_1'] }, 'Dojo says Captured after a partial capture')
  t.match(foldLink([...manual, first, first, capture('cp_2', 600, 1000)]), { status: 'captured', capturedAmount: 1000, captureIds: ['cp_1', 'cp_2'] })
  t.match(foldLink([...manual, first, capture('cp_2', 600, 1000), refund('rfnd_1', 1000, 1000)]), { status: 'refunded', refundedAmount: 1000 })
  t.match(foldLink([...manual, first, ev('payment-link.released', { ...money })]), { status: 'captured' }, 'a captured Manual payment is only refunded, never released')
  t.match(foldLink([...manual, ev('payment-link.released', { ...money, reversalId: 'rvs_1' })]), { status: 'released' })
  t.same(linkAmountsAfter('issued', { capturedAmount: 0, refundedAmount: 0 }, 1000, first), { capturedAmount: 0, refundedAmount: 0 }, 'no capture before the authorisation')
})

t.test('status-changed v1 should upcast Dojo\'s reversed to released', async (t) => {
  const linkId = 'lnk_moneymoneymoney0002'
  const upcast = registry.upcast({
    id: '00000000-0000-4000-8000-000000000001',
    type: 'payment-link.status-changed',
    schemaVersion: 1,
    streamId: paymentLinkStream(linkId),
    occurredAt: '2026-01-01T00:00:00.000Z',
    data: { linkId, paymentIntentId: 'pi_sandbox_moneymoney02', from: 'authorized', to: 'reversed', dojoStatus: 'Reversed', amount: { value: 1, currencyCode: 'GBP' }, capturedAmount: 0, refundedAmount: 0, source: 'webhook', observedAt: '2026-01-01T00:00:00.000Z' },
    metadata
  })
  t.match(upcast, { schemaVersion: 2, data: { from: 'authorized', to: 'released' } })
  t.equal(foldLinkStatus([{ type: 'payment-link.requested', data: {} }, { type: 'payment-link.issued', data: {} }, { type: 'payment-link.status-changed', data: { to: 'authorized' } }, { type: 'payment-link.status-changed', data: { to: 'reversed' } }]), 'released', 'even read raw')
})

t.test('a renewal should link the two links both ways and leave the old one\'s status as it was', async (t) => {
  const oldId = 'lnk_renewrenewrenew0001'
  const newId = 'lnk_renewrenewrenew0002'
  let position = 0
  const ev = (linkId: string, type: any, data: any): RecordedEvent =>
    ({ ...registry.create(type, data, { streamId: paymentLinkStream(linkId), metadata }), position: ++position, streamVersion: position, recordedAt: new Date().toISOString() })
  const requested = (linkId: string, extra = {}): RecordedEvent => ev(linkId, 'payment-link.requested', { linkId, merchantId: 'mer_demo01', reference: 'r-renew', amount: { value: 500, currencyCode: 'GBP' }, expiresAt: '2026-12-27T12:00:00.000Z', sendEmail: false, source: 'api', ...extra })
  const old = foldLink([
    requested(oldId),
    ev(oldId, 'payment-link.canceled', { linkId: oldId }),
    ev(oldId, 'payment-link.renewed', { linkId: oldId, renewedAs: newId }),
    ev(oldId, 'payment-link.renewed', { linkId: oldId, renewedAs: 'lnk_renewrenewrenew0003' })
  ])
  t.match(old, { status: 'canceled', renewedAs: newId }, 'still canceled; the first renewal stays its renewal')
  t.equal(old?.renewalOf, undefined)
  t.match(foldLink([requested(newId, { renewalOf: oldId })]), { status: 'requested', renewalOf: oldId })
  t.throws(() => ev(oldId, 'payment-link.renewed', { linkId: oldId, renewedAs: 'not-a-link' }), { code: 'CONTRACT_INVALID_DATA' })
})
