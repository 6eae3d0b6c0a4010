import { sql, type Insertable, type Kysely } from 'kysely'
import {
  is, linkStatusMoves, PaymentLinkIssued, paymentLinkEvents, PaymentLinkReminded, PaymentLinkRequested, PaymentLinkSent,
  type LinkStatus, type RecordedEvent, type RecordedEventOf
} from '@paylinks/contracts'
import { createStoreSubscriber, type EventStore, type Executor, type StoreSubscriber } from '@paylinks/event-store'
import { registry } from './link.js'
import type { LinkIssuerTables, LinksTable } from './tables.js'

export const READ_MODEL_NAME = 'link-issuer.links'

/** The columns an event sets on its link's row; the others keep their values. */
interface Columns {
  status?: string
  payment_intent_id?: string
  url?: string
  expires_at?: string
  email_sent_at?: string
  last_emailed_at?: string
  reminders_sent?: number
  updated_at: string
}

type Moves = ReturnType<typeof linkStatusMoves>

/**
 * What one event does to its link's row. It applies while the row's last_position is below
 * `position` (a replayed event changes nothing) and either `always` or the row's status is one
 * `moves` moves: the contracts' `linkStatusMoves` (the status rule as data), so the SQL guard of a single
 * change and the in-memory fold of several follow the one rule. A run of changes of one row
 * folds into one change with `always` and the resulting status.
 */
interface Change {
  linkId: string
  position: number
  moves: Moves | null
  always: boolean
  set: Columns
}

interface LinkInBatch {
  /** The row of the link's first `requested` event in the batch. */
  request?: Insertable<LinksTable>
  changes: Change[]
  /** How many of `changes` come before `request`: they met no row. */
  changesBeforeRequest: number
}

// Timestamps travel as JSON: normalised as a Date would be, so rows match the per-event writes.
const iso = (dateTime: string): string => new Date(dateTime).toISOString()

function requestRow (event: RecordedEventOf<typeof PaymentLinkRequested>): Insertable<LinksTable> {
  const d = event.data
  const at = new Date(event.occurredAt)
  return {
    link_id: d.linkId,
    merchant_id: d.merchantId,
    reference: d.reference,
    status: 'requested',
    amount_value: d.amount.value,
    currency_code: d.amount.currencyCode,
    payment_intent_id: null,
    url: null,
    source: d.source,
    order_id: d.orderId ?? null,
    customer_id: d.customer?.id ?? null,
    email_requested: d.sendEmail,
    email_sent_at: null,
    last_emailed_at: null,
    expires_at: new Date(d.expiresAt),
    created_at: at,
    updated_at: at,
    last_position: event.position
  }
}

function changeOf (event: RecordedEvent): Change | undefined {
  const moves = linkStatusMoves(event)
  const moving = Object.keys(moves).length > 0
  // Facts beside the status: they apply whatever it is (the sweep's query asks for issued links).
  const always = is(event, PaymentLinkSent) || is(event, PaymentLinkReminded)
  // A retryable failure, say: no row it could change.
  if (!moving && !always) return undefined
  const updatedAt = iso(event.occurredAt)
  const set: Columns = { updated_at: updatedAt }
  if (is(event, PaymentLinkIssued)) Object.assign(set, { payment_intent_id: event.data.paymentIntentId, url: event.data.url, expires_at: iso(event.data.expiresAt) })
  if (is(event, PaymentLinkSent)) Object.assign(set, { email_sent_at: updatedAt, last_emailed_at: updatedAt })
  if (is(event, PaymentLinkReminded)) Object.assign(set, { reminders_sent: event.data.reminder, last_emailed_at: updatedAt })
  return { linkId: (event.data as { linkId: string }).linkId, position: event.position, moves, always, set }
}

/**
 * Apply `changes` in order to a row whose status and last_position are known (and locked): one
 * change with their combined effect, or undefined when none of them applies.
 */
function fold (row: { status: string, last_position: number }, changes: Change[]): Change | undefined {
  let folded: Change | undefined
  for (const change of changes) {
    if (row.last_position >= change.position) continue
    const to = change.moves?.[row.status as LinkStatus]
    if (to === undefined && !change.always) continue
    row = { status: to ?? row.status, last_position: change.position }
    folded = { linkId: change.linkId, position: change.position, moves: null, always: true, set: { ...folded?.set, ...change.set, status: row.status } }
  }
  return folded
}

/**
 * Apply link events to li_links, in the subscriber's transaction (with its checkpoint), with the
 * rows one statement per event would leave, in at most three statements:
 * 1. one INSERT … ON CONFLICT DO NOTHING of the links requested in the batch; a row it inserts
 *    is known, so the link's later events fold in memory;
 * 2. only for links already stored with two or more changes in the batch: one SELECT … FOR UPDATE
 *    of their status and last_position, so those fold in memory too;
 * 3. one UPDATE … FROM of at most one change per link: a folded one, or a link's single change,
 *    guarded in SQL by its `moves` (the status rule, evaluated in memory for every status).
 */
export async function applyLinkEvents (executor: Executor, events: RecordedEvent[]): Promise<void> {
  const trx = executor as unknown as Kysely<LinkIssuerTables>
  const links = new Map<string, LinkInBatch>()
  for (const raw of events) {
    const event = registry.upcast(raw)
    const linkId = (event.data as { linkId: string }).linkId
    let link = links.get(linkId)
    if (link === undefined) links.set(linkId, link = { changes: [], changesBeforeRequest: 0 })
    if (is(event, PaymentLinkRequested)) {
      if (link.request === undefined) {
        link.request = requestRow(event)
        link.changesBeforeRequest = link.changes.length
      }
    } else {
      const change = changeOf(event)
      if (change !== undefined) link.changes.push(change)
    }
  }

  const requests = [...links.values()].flatMap((link) => link.request ?? [])
  const inserted = new Set(requests.length === 0
    ? []
    : (await trx.insertInto('li_links').values(requests).onConflict((oc) => oc.column('link_id').doNothing()).returning('link_id').execute()).map((r) => r.link_id))

  const updates: Change[] = []
  const toLock: string[] = []
  for (const [linkId, link] of links) {
    if (inserted.has(linkId)) {
      const folded = fold({ status: 'requested', last_position: link.request!.last_position }, link.changes.slice(link.changesBeforeRequest))
      if (folded !== undefined) updates.push(folded)
    } else if (link.changes.length === 1) {
      updates.push(link.changes[0]!)
    } else if (link.changes.length > 1) {
      toLock.push(linkId)
    }
  }
  if (toLock.length > 0) {
    const rows = await trx.selectFrom('li_links').select(['link_id', 'status', 'last_position']).where('link_id', 'in', toLock).forUpdate().execute()
    for (const row of rows) {
      const folded = fold(row, links.get(row.link_id)!.changes)
      if (folded !== undefined) updates.push(folded)
    }
  }
  if (updates.length === 0) return

  // Every column an event sets is non-null, so a null here means "not set by this change".
  const values = updates.map((c) => ({ link_id: c.linkId, position: c.position, moves: c.moves, always: c.always, ...c.set }))
  await sql`
    UPDATE li_links AS l SET
      status = coalesce(v.status, v.moves ->> l.status, l.status),
      payment_intent_id = coalesce(v.payment_intent_id, l.payment_intent_id),
      url = coalesce(v.url, l.url),
      expires_at = coalesce(v.expires_at, l.expires_at),
      email_sent_at = coalesce(v.email_sent_at, l.email_sent_at),
      last_emailed_at = CASE WHEN v.reminders_sent IS NOT NULL AND v.reminders_sent <= l.reminders_sent THEN l.last_emailed_at
        ELSE coalesce(v.last_emailed_at, l.last_emailed_at) END,
      reminders_sent = greatest(v.reminders_sent, l.reminders_sent),
      updated_at = v.updated_at,
      last_position = v.position
    FROM jsonb_to_recordset(${JSON.stringify(values)}::jsonb) AS v(
      link_id text, position bigint, moves jsonb, always boolean, status text, payment_intent_id text,
      url text, expires_at timestamptz, email_sent_at timestamptz, last_emailed_at timestamptz, reminders_sent integer,
      updated_at timestamptz)
    WHERE l.link_id = v.link_id AND l.last_position < v.position
      AND (v.always OR v.moves ? l.status)`.execute(trx)
}

/** The subscriber that keeps li_links: one active instance per database, exactly-once effects. */
export function createLinksReadModel (store: EventStore, log: { info: (o: object, m: string) => void, error: (o: object, m: string) => void }, lingerMs = 0): StoreSubscriber {
  return createStoreSubscriber({
    store,
    name: READ_MODEL_NAME,
    lingerMs,
    types: paymentLinkEvents.map((d) => d.type).filter((t) => t !== 'payment-link.webhook-received'),
    handle: applyLinkEvents,
    log
  })
}
