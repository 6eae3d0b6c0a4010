import { Type, type Static } from '@sinclair/typebox'
import type { RecordedEvent } from './envelope.js'
import { defineEvent, is, type RecordedEventOf } from './registry.js'
import { DateTimeSchema, MoneySchema, type Money } from './primitives.js'
import type { LinkStatus } from './payment-links.js'

// A reusable link is one URL for many payers. It is an aggregate of its own: each payer is
// admitted by a decision on its stream (so a limit holds under concurrent payers) and then gets
// an ordinary payment link of their own, a child that names it (`reusableLinkId`).

/** `rl_` + url-safe characters. A reusable link's events form the stream `reusable-link.<id>`. */
export const ReusableLinkIdSchema = Type.String({ pattern: '^rl_[A-Za-z0-9_-]{10,64}$', description: 'Reusable payment link id' })

/** The stream of one reusable link. */
export const reusableLinkStream = (reusableLinkId: string): string => `reusable-link.${reusableLinkId}`

const ChildLinkIdSchema = Type.String({ pattern: '^lnk_[A-Za-z0-9_-]{10,64}$' })
const MerchantRef = Type.String({ pattern: '^mer_[A-Za-z0-9_-]{6,64}$' })

/** The merchant made a reusable link: a price, and optionally a limit on completed payments. */
export const ReusableLinkCreated = defineEvent('reusable-link.created', Type.Object({
  reusableLinkId: ReusableLinkIdSchema,
  merchantId: MerchantRef,
  reference: Type.String({ minLength: 1, maxLength: 50 }),
  amount: MoneySchema,
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  maxPayments: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  redirectUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 }))
}, { additionalProperties: false }))

/** The merchant changed the price (or the limit): payers admitted from now on pay it. */
export const ReusableLinkChanged = defineEvent('reusable-link.changed', Type.Object({
  reusableLinkId: ReusableLinkIdSchema,
  amount: Type.Optional(MoneySchema),
  maxPayments: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()]))
}, { additionalProperties: false }))

/**
 * A payer was given a place: `childLinkId` is the payment link they get (its id follows from the
 * reusable link and `payer`, the admission's number). The place is held until `holdUntil`; after
 * that an unpaid child is canceled at Dojo and its place freed.
 */
export const ReusableLinkPayerAdmitted = defineEvent('reusable-link.payer-admitted', Type.Object({
  reusableLinkId: ReusableLinkIdSchema,
  childLinkId: ChildLinkIdSchema,
  payer: Type.Integer({ minimum: 1 }),
  holdUntil: DateTimeSchema
}, { additionalProperties: false }))

/** An admitted payer's child link was paid (or authorised): a completed payment, for good. */
export const ReusableLinkPayerCompleted = defineEvent('reusable-link.payer-completed', Type.Object({
  reusableLinkId: ReusableLinkIdSchema,
  childLinkId: ChildLinkIdSchema,
  status: Type.String({ maxLength: 50 })
}, { additionalProperties: false }))

/** An admitted payer's child link ended unpaid (canceled after its hold, expired, failed): the place is free again. */
export const ReusableLinkPayerReleased = defineEvent('reusable-link.payer-released', Type.Object({
  reusableLinkId: ReusableLinkIdSchema,
  childLinkId: ChildLinkIdSchema,
  status: Type.String({ maxLength: 50 })
}, { additionalProperties: false }))

/** The merchant deactivated the link: nobody else is admitted. Admitted payers keep their hold. */
export const ReusableLinkDeactivated = defineEvent('reusable-link.deactivated', Type.Object({
  reusableLinkId: ReusableLinkIdSchema,
  reason: Type.Optional(Type.String({ maxLength: 500 }))
}, { additionalProperties: false }))

/** Every event of a reusable link's stream. */
export const reusableLinkEvents = [
  ReusableLinkCreated, ReusableLinkChanged, ReusableLinkPayerAdmitted, ReusableLinkPayerCompleted, ReusableLinkPayerReleased, ReusableLinkDeactivated
] as const

export type ReusableLinkEvent = RecordedEventOf<typeof ReusableLinkCreated> | RecordedEventOf<typeof ReusableLinkChanged>
  | RecordedEventOf<typeof ReusableLinkPayerAdmitted> | RecordedEventOf<typeof ReusableLinkPayerCompleted>
  | RecordedEventOf<typeof ReusableLinkPayerReleased> | RecordedEventOf<typeof ReusableLinkDeactivated>

export const ReusableChildStatusSchema = Type.Union([Type.Literal('held'), Type.Literal('completed'), Type.Literal('released')])
export type ReusableChildStatus = Static<typeof ReusableChildStatusSchema>

export interface ReusableChild {
  linkId: string
  payer: number
  status: ReusableChildStatus
  admittedAt: string
  holdUntil: string
}

/** A reusable link as its events tell it. */
export interface ReusableLinkState {
  reusableLinkId: string
  merchantId: string
  reference: string
  amount: Money
  description?: string
  maxPayments?: number
  redirectUrl?: string
  active: boolean
  deactivatedAt?: string
  /** Payers admitted so far (the last admission's number). */
  admitted: number
  /** Admitted payers whose child was paid. */
  completed: number
  /** Admitted payers whose child ended unpaid (their place was freed). */
  released: number
  /** Every admitted payer's child, in admission order. */
  children: ReusableChild[]
  /** The causation of the request that created it: its replays are the same request. */
  createdBy: string
  createdAt: string
  updatedAt: string
  position: number
  version: number
}

type FoldableEvent = Pick<RecordedEvent, 'type' | 'data' | 'occurredAt' | 'position' | 'streamVersion' | 'metadata'>

/**
 * The one rule of a reusable link. A child moves only from `held`, to `completed` or to
 * `released`, once: a late or repeated report changes nothing. Counts follow the children.
 */
export function evolveReusableLink (state: ReusableLinkState | undefined, event: FoldableEvent): ReusableLinkState | undefined {
  if (state === undefined) {
    if (!is(event, ReusableLinkCreated)) return undefined
    const d = event.data
    return {
      reusableLinkId: d.reusableLinkId,
      merchantId: d.merchantId,
      reference: d.reference,
      amount: d.amount,
      ...(d.description === undefined ? {} : { description: d.description }),
      ...(d.maxPayments === undefined ? {} : { maxPayments: d.maxPayments }),
      ...(d.redirectUrl === undefined ? {} : { redirectUrl: d.redirectUrl }),
      active: true,
      admitted: 0,
      completed: 0,
      released: 0,
      children: [],
      createdBy: event.metadata.causationId ?? event.metadata.correlationId,
      createdAt: event.occurredAt,
      updatedAt: event.occurredAt,
      position: event.position,
      version: event.streamVersion
    }
  }
  const next: ReusableLinkState = { ...state, updatedAt: event.occurredAt, position: event.position, version: event.streamVersion }
  if (is(event, ReusableLinkChanged)) {
    if (event.data.amount !== undefined) next.amount = event.data.amount
    if (event.data.maxPayments === null) delete next.maxPayments
    else if (event.data.maxPayments !== undefined) next.maxPayments = event.data.maxPayments
  } else if (is(event, ReusableLinkPayerAdmitted)) {
    if (event.data.payer === state.admitted + 1 && state.children.every((c) => c.linkId !== event.data.childLinkId)) {
      next.admitted = event.data.payer
      next.children = [...state.children, { linkId: event.data.childLinkId, payer: event.data.payer, status: 'held', admittedAt: event.occurredAt, holdUntil: event.data.holdUntil }]
    }
  } else if (is(event, ReusableLinkPayerCompleted) || is(event, ReusableLinkPayerReleased)) {
    const to: ReusableChildStatus = is(event, ReusableLinkPayerCompleted) ? 'completed' : 'released'
    const index = state.children.findIndex((c) => c.linkId === event.data.childLinkId && c.status === 'held')
    if (index >= 0) {
      next.children = state.children.map((c, i) => i === index ? { ...c, status: to } : c)
      if (to === 'completed') next.completed = state.completed + 1
      else next.released = state.released + 1
    }
  } else if (is(event, ReusableLinkDeactivated) && state.active) {
    next.active = false
    next.deactivatedAt = event.occurredAt
  }
  return next
}

/** Fold a reusable link's events (stream order); undefined when it was never created. */
export function foldReusableLink (events: readonly FoldableEvent[]): ReusableLinkState | undefined {
  return events.reduce<ReusableLinkState | undefined>(evolveReusableLink, undefined)
}

/** Places taken: completed payments plus admitted payers whose child may still be paid. */
export function placesTaken (state: Pick<ReusableLinkState, 'admitted' | 'released'>): number {
  return state.admitted - state.released
}

/** True when one more payer may be admitted now: active, and below the limit (if any). */
export function admitsPayer (state: ReusableLinkState): boolean {
  return state.active && (state.maxPayments === undefined || placesTaken(state) < state.maxPayments)
}

/**
 * What a child's status means for its place: `completed` once money was taken (a later refund
 * or reversal does not reopen it), `released` once it ended unpaid, nothing while payable.
 */
export function childOutcome (status: LinkStatus): 'completed' | 'released' | undefined {
  switch (status) {
    case 'requested': case 'issued': return undefined
    case 'failed': case 'canceled': case 'expired': return 'released'
    default: return 'completed'
  }
}
