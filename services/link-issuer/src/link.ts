import { createHash } from 'node:crypto'
import { createEventRegistry, domainEvents, evolveLink, type LinkState as SharedLinkState, type PersonalData, type RecordedEvent } from '@paylinks/contracts'

/** Every event type this process reads or writes. */
export const registry = createEventRegistry(domainEvents)

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

/**
 * A link's id follows from the merchant and its reference: a reference names one link forever,
 * so two racing requests for it meet on one stream and the expected sequence picks one.
 */
export function linkIdFor (merchantId: string, reference: string): string {
  return `lnk_${digest(`${merchantId}\u0000${reference}`).slice(0, 22)}`
}

/**
 * The id of the link that renews `linkId`: derived from the old link alone (its digest input
 * cannot be a merchant's `mer_…` + reference), so every renewal request of one link meets on one
 * stream and a second request gets the first's link.
 */
export function renewalLinkIdFor (linkId: string): string {
  return `lnk_${digest(`renewal\u0000${linkId}`).slice(0, 22)}`
}

/**
 * The reference of the link renewing `state`: the merchant's own, marked `~2` (`~3` for a renewal
 * of that, …) so people can tell them apart. Display only: a renewal claims no reference, so a
 * merchant who sends this text as their own reference later still gets a link of their own.
 */
export function renewalReferenceFor (state: { reference: string, renewalOf?: string | undefined }): string {
  const chained = state.renewalOf === undefined ? undefined : /^(.*)~(\d+)$/s.exec(state.reference)
  const base = chained?.[1] ?? state.reference
  const suffix = `~${chained === undefined || chained === null ? 2 : Number(chained[2]) + 1}`
  return `${base.slice(0, 60 - suffix.length)}${suffix}`
}

/** The reference sent to Dojo: the merchant's (shortened) plus the link id, so it is unique. */
export function dojoReferenceFor (reference: string, linkId: string): string {
  return `${reference.slice(0, 60 - linkId.length - 1)} ${linkId}`
}

/** A UUID derived from text: for events whose re-publication must be recognised as the same. */
export function uuidFrom (text: string): string {
  const h = createHash('sha256').update(text).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/**
 * A link as link-issuer decides on it: the shared state (status by the contracts' one rule) plus
 * what only this service needs: who asked for it, and the events themselves (the timeline).
 */
export interface IssuerLinkState extends SharedLinkState {
  /** The causation id of the request that asked for it: its replays are the same request. */
  requestedBy: string
  correlationId: string
  events: RecordedEvent[]
  /** The customer's personal data opened with its key (issuer), or `{ erased: true }` once erased. */
  personal?: PersonalData | { erased: true }
}
/** The name the routes know the issuer's state by. */
export type LinkState = IssuerLinkState

/** Apply one recorded event: the contracts' `evolveLink`, plus this service's own facts. */
export function evolveIssuerLink (state: IssuerLinkState | undefined, raw: RecordedEvent): IssuerLinkState | undefined {
  const event = registry.has(raw.type) ? registry.upcast(raw) : raw
  if (state !== undefined) return { ...evolveLink(state, event), events: [...state.events, event] }
  const created = evolveLink(undefined, event)
  return created === undefined
    ? undefined
    : { ...created, requestedBy: event.metadata.causationId ?? event.metadata.correlationId, correlationId: event.metadata.correlationId, events: [event] }
}

/** Fold a link's recorded events; undefined when it was never requested. */
export function foldLink (recorded: RecordedEvent[]): IssuerLinkState | undefined {
  let state: SharedLinkState | undefined
  let first: RecordedEvent | undefined
  const events: RecordedEvent[] = []
  for (const raw of recorded) {
    const event = registry.has(raw.type) ? registry.upcast(raw) : raw
    // Events of a link never requested are not part of it (nor of its timeline).
    const next = evolveLink(state, event)
    if (next === undefined) continue
    first ??= event
    state = next
    events.push(event)
  }
  if (state === undefined || first === undefined) return undefined
  return { ...state, requestedBy: first.metadata.causationId ?? first.metadata.correlationId, correlationId: first.metadata.correlationId, events }
}

/**
 * What partners see of a link's customer: its id and personal data, or `{ id, erased: true }`
 * once erased (also while its data cannot be opened). Undefined for a link without a customer.
 */
export function customerView (state: Pick<LinkState, 'customer' | 'personal'>): Record<string, unknown> | undefined {
  if (state.customer === undefined) return undefined
  const personal = state.personal
  if (personal === undefined || 'erased' in personal) return { id: state.customer.id, erased: true }
  return {
    id: state.customer.id,
    ...(personal.email === undefined ? {} : { email: personal.email }),
    ...(personal.phone === undefined ? {} : { phone: personal.phone }),
    ...(personal.name === undefined ? {} : { name: personal.name })
  }
}

/** The link's metadata: the clear fields, and the personal ones while the customer's key exists. */
export function metadataView (state: Pick<LinkState, 'metadata' | 'personal'>): Record<string, string> | undefined {
  const personal = state.personal === undefined || 'erased' in state.personal ? undefined : state.personal.metadata
  return state.metadata === undefined && personal === undefined ? undefined : { ...state.metadata, ...personal }
}

/** The link's short URL at `publicUrl` (link-issuer's): opening it is recorded, then Dojo's checkout. */
export function shortUrlOf (publicUrl: string, linkId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/l/${linkId.slice('lnk_'.length)}`
}

/** What partners see of a link; `publicUrl` is link-issuer's (its short URL). */
export function linkView (state: LinkState, publicUrl: string): Record<string, unknown> {
  const customer = customerView(state)
  const metadata = metadataView(state)
  return {
    id: state.linkId,
    reference: state.reference,
    status: state.status,
    url: state.url ?? null,
    shortUrl: state.url === undefined ? null : shortUrlOf(publicUrl, state.linkId),
    paymentIntentId: state.paymentIntentId ?? null,
    amount: state.amount,
    ...(state.description === undefined ? {} : { description: state.description }),
    ...(customer === undefined ? {} : { customer }),
    expiresAt: state.expiresAt,
    ...(state.redirectUrl === undefined ? {} : { redirectUrl: state.redirectUrl }),
    ...(metadata === undefined ? {} : { metadata }),
    source: state.source,
    ...(state.orderId === undefined ? {} : { orderId: state.orderId }),
    renewalOf: state.renewalOf ?? null,
    renewedAs: state.renewedAs ?? null,
    reusableLinkId: state.reusableLinkId ?? null,
    email: { requested: state.sendEmail, sentAt: state.emailSentAt ?? null, reminders: state.reminders, lastReminderAt: state.lastRemindedAt ?? null },
    opened: { firstAt: state.openedAt ?? null, count: state.openCount },
    captureMode: state.captureMode,
    capturedAmount: state.capturedAmount,
    refundedAmount: state.refundedAmount,
    ...(state.failure === undefined ? {} : { failure: { reason: state.failure.reason, ...(state.failure.code === undefined ? {} : { code: state.failure.code }) } }),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt
  }
}
