import { createHash } from 'node:crypto'
import { admitsPayer, reusableLinkStream, type Money, type NewEvent, type ReusableLinkState } from '@paylinks/contracts'
import { LinkErrorCodes, linkError } from '../errors.js'
import { registry, uuidFrom } from '../link.js'
import { PRODUCER } from '../issuing/decisions.js'

// Pure decisions on a reusable link's stream, as issuing/decisions.ts on a link's: the state
// decided on in, the events out; handleCommand calls them again on the reloaded state after a
// lost race, which is what makes the limit hold under concurrent payers.

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** A reusable link's id follows from the merchant and its reference, as a link's does. */
export function reusableLinkIdFor (merchantId: string, reference: string): string {
  return `rl_${digest(`reusable\u0000${merchantId}\u0000${reference}`).slice(0, 22)}`
}

/**
 * The link of the reusable link's `payer`-th admitted payer: derived (its digest input cannot be
 * a merchant's id and reference), so the admission names it before it exists.
 */
export function childLinkIdFor (reusableLinkId: string, payer: number): string {
  return `lnk_${digest(`reusable-payer\u0000${reusableLinkId}\u0000${payer}`).slice(0, 22)}`
}

/** The child's reference, shown to the merchant and sent to Dojo: the reusable link's, and the payer's number. */
export function childReferenceFor (reference: string, payer: number): string {
  return `${reference}#${payer}`
}

/** What a create asks for: the link's own facts, and who asked (its replays are the same request). */
export type ReusableLinkRequest = Pick<ReusableLinkState, 'reusableLinkId' | 'merchantId' | 'reference' | 'amount' | 'description' | 'maxPayments' | 'redirectUrl'> & {
  causationId: string
  correlationId: string
}

const metadataOf = (state: Pick<ReusableLinkState, 'createdBy'>, correlationId: string): NewEvent['metadata'] =>
  ({ correlationId, causationId: state.createdBy, producer: PRODUCER })

/** Create the reusable link; nothing when it is this request's own (a replay); LINK_REFERENCE_TAKEN otherwise. */
export function decideCreate (state: ReusableLinkState | undefined, input: ReusableLinkRequest): NewEvent[] {
  if (state !== undefined) {
    if (state.createdBy !== input.causationId) {
      throw linkError(LinkErrorCodes.referenceTaken, 409, `Reference '${input.reference}' is already used by reusable link ${state.reusableLinkId}.`, { reusableLinkId: state.reusableLinkId, reference: input.reference })
    }
    return []
  }
  return [registry.create('reusable-link.created', {
    reusableLinkId: input.reusableLinkId,
    merchantId: input.merchantId,
    reference: input.reference,
    amount: input.amount,
    ...(input.description === undefined ? {} : { description: input.description }),
    ...(input.maxPayments === undefined ? {} : { maxPayments: input.maxPayments }),
    ...(input.redirectUrl === undefined ? {} : { redirectUrl: input.redirectUrl })
  }, { streamId: reusableLinkStream(input.reusableLinkId), metadata: { correlationId: input.correlationId, causationId: input.causationId, producer: PRODUCER } })]
}

/** Change the price or the limit of an active link; nothing when nothing changes; 409 once deactivated. */
export function decideChange (state: ReusableLinkState, change: { amount?: Money, maxPayments?: number | null }, correlationId: string): NewEvent[] {
  if (!state.active) throw linkError(LinkErrorCodes.reusableInactive, 409, `Reusable link ${state.reusableLinkId} is deactivated: it cannot be changed.`, { reusableLinkId: state.reusableLinkId })
  const amount = change.amount !== undefined && (change.amount.value !== state.amount.value || change.amount.currencyCode !== state.amount.currencyCode) ? change.amount : undefined
  const limit = change.maxPayments === undefined || change.maxPayments === (state.maxPayments ?? null) ? undefined : change.maxPayments
  if (amount === undefined && limit === undefined) return []
  return [registry.create('reusable-link.changed', {
    reusableLinkId: state.reusableLinkId, ...(amount === undefined ? {} : { amount }), ...(limit === undefined ? {} : { maxPayments: limit })
  }, { streamId: reusableLinkStream(state.reusableLinkId), metadata: metadataOf(state, correlationId) })]
}

/** Deactivate: nothing when it is deactivated already. */
export function decideDeactivate (state: ReusableLinkState, reason: string | undefined, correlationId: string): NewEvent[] {
  if (!state.active) return []
  return [registry.create('reusable-link.deactivated', { reusableLinkId: state.reusableLinkId, ...(reason === undefined ? {} : { reason }) }, {
    streamId: reusableLinkStream(state.reusableLinkId), metadata: metadataOf(state, correlationId)
  })]
}

/**
 * Admit one more payer, holding their place until `holdUntil`, only while the link is active and
 * completed payments plus admitted payers whose link may still be paid stay below the limit:
 * LINK_REUSABLE_UNAVAILABLE otherwise. The payer's number is the next admission's, so two racing
 * payers decided on one state cannot both land (expected sequence), and the loser decides again.
 */
export function decideAdmit (state: ReusableLinkState, holdUntil: Date, correlationId: string): NewEvent[] {
  if (!admitsPayer(state)) {
    throw linkError(LinkErrorCodes.reusableUnavailable, 410, state.active
      ? 'This payment link has reached its limit of payments: it is no longer available.'
      : 'This payment link was deactivated: it is no longer available.', { reusableLinkId: state.reusableLinkId })
  }
  const payer = state.admitted + 1
  return [registry.create('reusable-link.payer-admitted', {
    reusableLinkId: state.reusableLinkId, childLinkId: childLinkIdFor(state.reusableLinkId, payer), payer, holdUntil: holdUntil.toISOString()
  }, { streamId: reusableLinkStream(state.reusableLinkId), metadata: metadataOf(state, correlationId) })]
}

/**
 * Settle an admitted payer's place from their link's status: `completed` (paid) or `released`
 * (ended unpaid); nothing while the child is still held or once it is settled. Its id follows
 * from the child: a repeat, or another replica's, is the same event.
 */
export function decideSettle (state: ReusableLinkState, childLinkId: string, outcome: 'completed' | 'released', status: string): NewEvent[] {
  const child = state.children.find((c) => c.linkId === childLinkId)
  if (child?.status !== 'held') return []
  return [registry.create(outcome === 'completed' ? 'reusable-link.payer-completed' : 'reusable-link.payer-released', {
    reusableLinkId: state.reusableLinkId, childLinkId, status
  }, { id: uuidFrom(`${state.reusableLinkId} settled ${childLinkId}`), streamId: reusableLinkStream(state.reusableLinkId), metadata: metadataOf(state, state.createdBy) })]
}
