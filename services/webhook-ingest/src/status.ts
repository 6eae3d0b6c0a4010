import { LINK_STATUS_MOVES, type LinkStatus, type RecordedEvent } from '@paylinks/contracts'
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
 * The forward moves that take a link from `from` to `to`, shortest first: `issued` → `refunded`
 * is `paid` then `refunded` (the webhook of the capture was lost). Empty when `to` is not ahead
 * of `from`: a late or reordered report, which never moves a link back.
 */
export function forwardPath (from: LinkStatus, to: LinkStatus): LinkStatus[] {
  if (from === to) return []
  const previous = new Map<LinkStatus, LinkStatus>()
  const queue: LinkStatus[] = [from]
  while (queue.length > 0) {
    const at = queue.shift()!
    for (const next of LINK_STATUS_MOVES[at]) {
      if (next === from || previous.has(next)) continue
      previous.set(next, at)
      if (next === to) {
        const path: LinkStatus[] = [to]
        let step = at
        while (step !== from) { path.unshift(step); step = previous.get(step)! }
        return path
      }
      queue.push(next)
    }
  }
  return []
}

export interface LinkState {
  linkId: string
  merchantId: string | undefined
  paymentIntentId: string | undefined
  status: LinkStatus
  /** Position of the stream's last event: the expected last subject sequence of a decision. */
  lastPosition: number
}

/** Fold a link's recorded events into what a confirmation decides on. */
export function foldLink (linkId: string, events: RecordedEvent[]): LinkState {
  const state: LinkState = { linkId, merchantId: undefined, paymentIntentId: undefined, status: 'requested', lastPosition: 0 }
  const moveTo = (to: LinkStatus): void => { if (LINK_STATUS_MOVES[state.status].includes(to)) state.status = to }
  for (const event of events) {
    state.lastPosition = event.position
    const data = event.data
    switch (event.type) {
      case 'payment-link.requested':
        state.merchantId = data.merchantId as string
        break
      case 'payment-link.issued':
        state.merchantId = data.merchantId as string
        state.paymentIntentId = data.paymentIntentId as string
        moveTo('issued')
        break
      case 'payment-link.issue-failed': moveTo('failed'); break
      case 'payment-link.canceled': moveTo('canceled'); break
      case 'payment-link.status-changed': moveTo(data.to as LinkStatus); break
    }
  }
  return state
}

/** What Dojo says was captured: the captures if listed, else the whole amount once captured. */
export function capturedAmountOf (intent: PaymentIntent): number {
  const captures = (intent.captures ?? []).reduce((sum, c) => sum + (c.status == null || /success/i.test(c.status) ? c.amount : 0), 0)
  if (captures > 0) return captures
  return intent.status === 'Captured' || intent.status === 'Refunded' ? (intent.totalAmount ?? intent.amount).value : 0
}
