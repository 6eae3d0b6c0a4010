import { sql, type Insertable, type Kysely, type Transaction } from 'kysely'
import {
  is, linkStatusMoves, PaymentLinkCanceled, PaymentLinkCaptured, PaymentLinkIssued, PaymentLinkRefunded, PaymentLinkReleased,
  PaymentLinkStatusChanged, PaymentLinkWebhookReceived,
  type LinkStatus, type RecordedEvent
} from '@paylinks/contracts'
import { SETTLED_STATUSES } from './status.js'
import type { Tables } from './tables.js'

type Db = Kysely<Tables> | Transaction<Tables>

export interface KnownLink {
  linkId: string
  merchantId: string
}

export interface ScheduleOptions {
  /** First check after this long without a change. */
  quietAfterMs: number
}

/**
 * The store subscriber's effect, in its transaction with the checkpoint (exactly once):
 * `issued` adds the intent → link row the endpoint and reconciler use, `status-changed` and
 * `canceled` keep its status, and a `webhook-received` queues a confirmation of its intent
 * unless one from an earlier delivery is still waiting, never claimed: that one reads Dojo after
 * this delivery arrived, so it answers both (the delivery itself is in the store already).
 */
export async function applyEvents (trx: Db, events: RecordedEvent[], options: ScheduleOptions): Promise<void> {
  const quiet = sql`make_interval(secs => ${options.quietAfterMs / 1000})`
  // One statement for all the batch's new links, one for its status moves and one for its
  // deliveries: a burst of payments costs a few round trips per batch, not one per event. The
  // moves follow the inserts, as a link's move always follows its own `issued`.
  const issued: Array<Insertable<Tables['wi_links']>> = []
  const deliveries = new Map<string, Insertable<Tables['wi_confirmations']>>()
  const moves: RecordedEvent[] = []
  for (const event of events) {
    if (is(event, PaymentLinkIssued)) {
      const data = event.data
      const occurred = new Date(event.occurredAt)
      const expires = new Date(data.expiresAt)
      issued.push({
        payment_intent_id: data.paymentIntentId,
        link_id: data.linkId,
        merchant_id: data.merchantId,
        status: 'issued',
        expires_at: expires,
        changed_at: occurred,
        // Checked once quiet, or just after it expires if that is sooner (Dojo voids it then).
        next_check_at: new Date(Math.min(occurred.getTime() + options.quietAfterMs, expires.getTime() + 5000))
      })
    } else if (is(event, PaymentLinkStatusChanged) || is(event, PaymentLinkCanceled) || is(event, PaymentLinkCaptured) || is(event, PaymentLinkRefunded) || is(event, PaymentLinkReleased)) {
      moves.push(event)
    } else if (is(event, PaymentLinkWebhookReceived)) {
      // The first delivery of an intent in the batch is its cause; later ones ride along.
      if (deliveries.has(event.data.paymentIntentId)) continue
      deliveries.set(event.data.paymentIntentId, {
        key: event.id,
        payment_intent_id: event.data.paymentIntentId,
        source: 'webhook',
        cause_event_id: event.id,
        correlation_id: event.metadata.correlationId,
        received_at: new Date(event.data.receivedAt)
      })
    }
  }
  if (issued.length > 0) await trx.insertInto('wi_links').values(issued).onConflict((oc) => oc.column('payment_intent_id').doNothing()).execute()
  // A status move per payment: one statement for all the batch's links, in rounds (a link's
  // second move in the batch goes in the second round), so each link's moves apply in log order.
  const rounds: Array<Array<{ link_id: string, next: Partial<Record<LinkStatus, LinkStatus>>, changed_at: string }>> = []
  const seen = new Map<string, number>()
  for (const event of moves) {
    // The contracts' status rule: a late or reordered move (a cancel after paid) changes nothing.
    const next = linkStatusMoves(event)
    if (Object.keys(next).length === 0) continue
    const linkId = (event.data as { linkId: string }).linkId
    const round = seen.get(linkId) ?? 0
    seen.set(linkId, round + 1)
    ;(rounds[round] ??= []).push({ link_id: linkId, next, changed_at: event.occurredAt })
  }
  for (const round of rounds) {
    await sql`
      UPDATE wi_links l
         SET status = v.next ->> l.status,
             settled = (v.next ->> l.status) = ANY(${[...SETTLED_STATUSES]}::text[]),
             changed_at = v.changed_at,
             checks = 0,
             next_check_at = now() + ${quiet}
        FROM jsonb_to_recordset(${JSON.stringify(round)}::jsonb) AS v(link_id text, next jsonb, changed_at timestamptz)
       WHERE l.link_id = v.link_id AND (v.next ->> l.status) IS NOT NULL`.execute(trx)
  }
  if (deliveries.size === 0) return
  // Never claimed (attempts 0) and due: no worker has read Dojo for it yet, and the one that
  // claims it reads Dojo after this transaction's snapshot, so after this delivery arrived. A
  // claimed row (a worker may be reading Dojo now, or stalled past its lease) does not count.
  await sql`
    INSERT INTO wi_confirmations (key, payment_intent_id, source, cause_event_id, correlation_id, received_at)
    SELECT v.key, v.payment_intent_id, v.source, v.cause_event_id, v.correlation_id, v.received_at
      FROM jsonb_to_recordset(${JSON.stringify([...deliveries.values()])}::jsonb)
        AS v(key text, payment_intent_id text, source text, cause_event_id uuid, correlation_id text, received_at timestamptz)
     WHERE NOT EXISTS (
       SELECT 1 FROM wi_confirmations c
        WHERE c.payment_intent_id = v.payment_intent_id AND c.next_attempt_at <= now() AND c.attempts = 0 AND c.source = 'webhook')
    ON CONFLICT (key) DO NOTHING`.execute(trx)
}

export interface UnmatchedWebhook {
  dojoEventId: string
  merchantId: string
  paymentIntentId: string
  event: string
  paymentStatus: string
  receivedAt: Date
}

/** Keep a verified delivery whose intent has no known link yet. A re-delivery changes nothing. */
export async function saveUnmatched (db: Db, webhook: UnmatchedWebhook): Promise<boolean> {
  const result = await db.insertInto('wi_unmatched_webhooks').values({
    dojo_event_id: webhook.dojoEventId,
    merchant_id: webhook.merchantId,
    payment_intent_id: webhook.paymentIntentId,
    event: webhook.event,
    payment_status: webhook.paymentStatus,
    received_at: webhook.receivedAt
  }).onConflict((oc) => oc.column('dojo_event_id').doNothing()).executeTakeFirst()
  return result.numInsertedOrUpdatedRows === 1n
}

/** Kept deliveries whose link has appeared since. */
export async function matchedUnmatched (db: Db, limit: number): Promise<Array<UnmatchedWebhook & KnownLink>> {
  const rows = await db.selectFrom('wi_unmatched_webhooks as u')
    .innerJoin('wi_links as l', (j) => j.onRef('l.payment_intent_id', '=', 'u.payment_intent_id').onRef('l.merchant_id', '=', 'u.merchant_id'))
    .select(['u.dojo_event_id', 'u.merchant_id', 'u.payment_intent_id', 'u.event', 'u.payment_status', 'u.received_at', 'l.link_id'])
    .orderBy('u.received_at').limit(limit).execute()
  return rows.map((r) => ({
    dojoEventId: r.dojo_event_id,
    merchantId: r.merchant_id,
    paymentIntentId: r.payment_intent_id,
    event: r.event,
    paymentStatus: r.payment_status,
    receivedAt: r.received_at,
    linkId: r.link_id
  }))
}

export async function deleteUnmatched (db: Db, dojoEventId: string): Promise<void> {
  await db.deleteFrom('wi_unmatched_webhooks').where('dojo_event_id', '=', dojoEventId).execute()
}
