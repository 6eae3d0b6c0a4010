import t from 'tap'
import type { Merchant } from '@paylinks/merchants'
import { LinkErrorCodes } from '../../src/errors.js'
import { decideAbandon, decideCancel, decideOutcome, decideRequest, decideSent, ORDER_ABANDONED_CODE, type LinkRequest } from '../../src/issuing/decisions.js'
import { foldLink, linkIdFor, type IssuerLinkState } from '../../src/link.js'
import type { RecordedEvent, NewEvent } from '@paylinks/contracts'

const merchant: Merchant = {
  id: 'mer_decisions', name: 'Shop', dojoBaseUrl: 'https://api.dojo.tech', dojoEnvironment: 'sandbox', dojoKeyLast4: 'abcd', defaultRedirectUrl: null, linkExpiryHours: 24, allowRenewal: false, createdAt: '2026-01-01T00:00:00.000Z'
}
const input: LinkRequest = {
  merchant, reference: 'order-7', amount: { value: 995, currencyCode: 'GBP' }, sendEmail: true, customer: { email: 'c@example.com' }, source: 'api', causationId: 'idem-1', correlationId: 'corr-1'
}
const linkId = linkIdFor(merchant.id, input.reference)

let position = 0
/** Fold events as if recorded one after another. */
function after (state: IssuerLinkState | undefined, events: NewEvent[]): IssuerLinkState {
  const recorded: RecordedEvent[] = events.map((e) => ({ ...e, position: ++position, streamVersion: (state?.events.length ?? 0) + 1, recordedAt: e.occurredAt }))
  return foldLink([...(state?.events ?? []), ...recorded])!
}

const intent = { id: 'pi_sandbox_decisions01', paymentLink: undefined, expireAt: '2026-12-31T00:00:00.000Z' } as never

t.test('decideRequest should request a new reference once and refuse another request\'s', async (t) => {
  const [requested] = decideRequest(undefined, input, linkId)
  t.match(requested, { type: 'payment-link.requested', data: { linkId, reference: 'order-7', sendEmail: true }, metadata: { causationId: 'idem-1', producer: 'link-issuer' } })
  const state = after(undefined, [requested!])
  t.same(decideRequest(state, input, linkId), [], 'a replay of the same request publishes nothing')
  t.throws(() => decideRequest(state, { ...input, causationId: 'idem-2' }, linkId), { code: LinkErrorCodes.referenceTaken })
})

t.test('decideRequest should record the customer only sealed and keep personal metadata out of the clear', async (t) => {
  const sealedCustomer = { id: 'cus_decisions0001', sealed: 'c2VhbGVkLWJ5LXRoZS1jdXN0b21lcnMta2V5' }
  const [requested] = decideRequest(undefined, { ...input, reference: 'order-8', metadata: { cart: 'c-1', customerEmail: 'c@example.com' }, sealedCustomer }, linkIdFor(merchant.id, 'order-8'))
  t.same(requested!.data.customer, sealedCustomer)
  t.same(requested!.data.metadata, { cart: 'c-1' })
  t.notOk(JSON.stringify(requested).includes('c@example.com'), 'no e-mail in clear')
  const [unsealed] = decideRequest(undefined, { ...input, reference: 'order-9' }, linkIdFor(merchant.id, 'order-9'))
  t.equal(unsealed!.data.customer, undefined, 'a customer never sealed is not recorded at all')
})

t.test('decideOutcome should record the intent with the checkout URL of dojo-client, only while requested', async (t) => {
  const requested = after(undefined, decideRequest(undefined, input, linkId))
  const [issued] = decideOutcome(requested, { intent }, 'https://api.dojo.tech')
  t.match(issued, { type: 'payment-link.issued', data: { paymentIntentId: 'pi_sandbox_decisions01', url: 'https://pay.dojo.tech/checkout/pi_sandbox_decisions01', expiresAt: '2026-12-31T00:00:00.000Z' } })
  const state = after(requested, [issued!])
  t.same(decideOutcome(state, { intent }, 'https://api.dojo.tech'), [], 'another holder recorded the outcome first')
  const [failed] = decideOutcome(requested, { refused: { reason: 'no', code: 'DOJO_VALIDATION' } }, 'https://api.dojo.tech')
  t.match(failed, { type: 'payment-link.issue-failed', data: { retryable: false, code: 'DOJO_VALIDATION' } })
})

t.test('decideSent should record the e-mail once', async (t) => {
  const requested = after(undefined, decideRequest(undefined, input, linkId))
  const issued = after(requested, decideOutcome(requested, { intent }, 'https://api.dojo.tech'))
  const [sent] = decideSent(issued, 'smtp-1')
  t.match(sent, { type: 'payment-link.sent', data: { channel: 'email', messageId: 'smtp-1' } })
  t.same(decideSent(after(issued, [sent!]), 'smtp-2'), [])
})

t.test('decideCancel should cancel by the contracts\' rule: once, and never after the payment', async (t) => {
  const requested = after(undefined, decideRequest(undefined, input, linkId))
  const issued = after(requested, decideOutcome(requested, { intent }, 'https://api.dojo.tech'))
  const [canceled] = decideCancel(issued, linkId, 'customer left')
  t.match(canceled, { type: 'payment-link.canceled', data: { linkId, reason: 'customer left' } })
  t.same(decideCancel(after(issued, [canceled!]), linkId), [], 'canceled already')
  const paid = { ...issued, status: 'paid' as const }
  t.throws(() => decideCancel(paid, linkId), { code: LinkErrorCodes.notCancelable })
  t.throws(() => decideCancel(undefined, linkId), { code: LinkErrorCodes.notFound })
})

t.test('decideAbandon should fail a link still requested, and leave an issued one issued', async (t) => {
  const requested = after(undefined, decideRequest(undefined, { ...input, reference: 'order-gone', source: 'order', orderId: 'gone' }, linkIdFor(merchant.id, 'order-gone')))
  const [failed] = decideAbandon(requested, 'Dojo did not answer')
  t.match(failed, { type: 'payment-link.issue-failed', data: { code: ORDER_ABANDONED_CODE, retryable: false, reason: /given up: Dojo did not answer/ } })
  const abandoned = after(requested, [failed!])
  t.equal(abandoned.status, 'failed')
  t.same(decideAbandon(abandoned, 'again'), [], 'once')
  t.same(decideOutcome(abandoned, { intent }, 'https://api.dojo.tech'), [], 'a late create is not recorded after it')
  const issued = after(requested, decideOutcome(requested, { intent }, 'https://api.dojo.tech'))
  t.same(decideAbandon(issued, 'too late'), [], 'an issued link is never failed for its order')
})
