import {
  CAPTURABLE_STATUSES, evolveLink, is, PaymentLinkIssued, REFUNDABLE_STATUSES, type LinkState, type LinkStatus, type RecordedEvent
} from '@paylinks/contracts'
import type { PaymentIntent } from '@paylinks/dojo-client'

/**
 * Statuses after which the reconciler stops asking Dojo: the link's money can no longer move.
 * A link holding money (`paid`, `captured`, `partially_refunded`) or an authorisation stays
 * checked, with the reconciler's back-off, so a refund or capture made at Dojo's portal is found.
 */
export const SETTLED_STATUSES: ReadonlySet<LinkStatus> = new Set<LinkStatus>(['refunded', 'released', 'canceled', 'expired', 'failed'])

/**
 * The link status an intent's Dojo status means, before the money events: `Captured` and
 * `Refunded` are `paid` for an Auto intent and `authorized` for a Manual one; the captures and
 * refunds then follow as their own events (`moneyMoves`). `Reversed` is `released`. `Canceled` is
 * `expired` when Dojo voided it at `expireAt` (it only voids unpaid intents then), `canceled`
 * otherwise.
 */
export function linkStatusFor (intent: PaymentIntent, now: Date): LinkStatus {
  const manual = intent.captureMode === 'Manual'
  switch (intent.status) {
    case 'Created': return 'issued'
    case 'Authorized': return 'authorized'
    case 'Captured': return manual ? 'authorized' : 'paid'
    case 'Refunded': return manual ? 'authorized' : 'paid'
    case 'Reversed': return 'released'
    case 'Canceled': {
      const expireAt = intent.expireAt == null ? Number.NaN : Date.parse(intent.expireAt)
      return Number.isFinite(expireAt) && expireAt <= now.getTime() ? 'expired' : 'canceled'
    }
  }
}

/** One capture or refund Dojo shows that the link has not recorded. Amounts in minor units. */
export type MoneyMove =
  | { kind: 'captured', captureId: string, amount: number, capturedAmount: number }
  | { kind: 'refunded', refundId: string, amount: number, refundedAmount: number, capturedAmount: number }

/**
 * What Dojo shows of the link's money that its events lack, given the status the status moves
 * leave it in: each capture of a Manual intent not yet recorded (by Dojo's capture id), then the
 * refunds as one refund of the difference when Dojo's `refundedAmount` is ahead of ours. Dojo
 * does not list an intent's refunds, so that refund's id is derived from the new total (a
 * webhook and a reconciler check that race derive the same one).
 */
export function moneyMoves (state: Pick<LinkState, 'status' | 'capturedAmount' | 'refundedAmount' | 'captureIds'>, status: LinkStatus, intent: PaymentIntent): MoneyMove[] {
  const moves: MoneyMove[] = []
  let captured = state.capturedAmount
  let current = status
  if (intent.captureMode === 'Manual' && CAPTURABLE_STATUSES.has(current)) {
    const listed = (intent.captures ?? []).filter((c) => (c.status == null || /success/i.test(c.status)) && c.amount > 0)
    for (const [i, c] of listed.entries()) {
      const captureId = c.id ?? `dojo-capture-${i + 1}`
      if (state.captureIds.includes(captureId)) continue
      captured += c.amount
      moves.push({ kind: 'captured', captureId, amount: c.amount, capturedAmount: captured })
      current = 'captured'
    }
  }
  const dojoCaptured = Math.max(captured, capturedAmountOf(intent))
  const refunded = Math.min(intent.refundedAmount ?? 0, dojoCaptured)
  if (refunded > state.refundedAmount && REFUNDABLE_STATUSES.has(current)) {
    moves.push({ kind: 'refunded', refundId: `dojo-refunded-${refunded}`, amount: refunded - state.refundedAmount, refundedAmount: refunded, capturedAmount: dojoCaptured })
  }
  return moves
}

/**
 * A link as a confirmation decides on it: the contracts' state (status by the one rule, the
 * position of the last event) plus the correlation id of its issue, which its status changes carry.
 */
export interface IngestLinkState extends LinkState {
  issueCorrelationId?: string
}

/** Apply one recorded event: the contracts' `evolveLink`, plus the issue's correlation id. */
export function evolveIngestLink (state: IngestLinkState | undefined, event: RecordedEvent): IngestLinkState | undefined {
  const next: IngestLinkState | undefined = evolveLink(state, event)
  if (next === undefined || next.issueCorrelationId !== undefined || !is(event, PaymentLinkIssued)) return next
  return { ...next, issueCorrelationId: event.metadata.correlationId }
}

/** What Dojo says was captured: the captures if listed, else the whole amount once captured. */
export function capturedAmountOf (intent: PaymentIntent): number {
  const captures = (intent.captures ?? []).reduce((sum, c) => sum + (c.status == null || /success/i.test(c.status) ? c.amount : 0), 0)
  if (captures > 0) return captures
  return intent.status === 'Captured' || intent.status === 'Refunded' ? (intent.totalAmount ?? intent.amount).value : 0
}
