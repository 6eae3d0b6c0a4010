import { evolveLink, is, PaymentLinkIssued, type LinkState, type LinkStatus, type RecordedEvent } from '@paylinks/contracts'
import type { PaymentIntent } from '@paylinks/dojo-client'

/** Statuses after which the reconciler stops asking Dojo (the payment is recorded, or never will be). */
export const SETTLED_STATUSES: ReadonlySet<LinkStatus> = new Set<LinkStatus>(['paid', 'refunded', 'reversed', 'canceled', 'expired', 'failed'])

/**
 * The link status an intent's Dojo status means. `Canceled` is `expired` when Dojo voided it at
 * `expireAt` (it only voids unpaid intents then), `canceled` otherwise. A partial refund leaves
 * Dojo at `Captured`, so the link stays `paid` until the last refund makes it `Refunded`.
 */
export function linkStatusFor (intent: PaymentIntent, now: Date): LinkStatus {
  switch (intent.status) {
    case 'Created': return 'issued'
    case 'Authorized': return 'authorized'
    case 'Captured': return 'paid'
    case 'Refunded': return 'refunded'
    case 'Reversed': return 'reversed'
    case 'Canceled': {
      const expireAt = intent.expireAt == null ? Number.NaN : Date.parse(intent.expireAt)
      return Number.isFinite(expireAt) && expireAt <= now.getTime() ? 'expired' : 'canceled'
    }
  }
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
