import { sql } from 'kysely'
import { DEFAULT_REMINDER_POLICY, type ReminderPolicy } from '../schemas.js'
import type { Db } from '../tables.js'

/** The merchant's reminder policy; the default (off) when it never set one. */
export async function getReminderPolicy (db: Db, merchantId: string): Promise<ReminderPolicy> {
  const row = await db.selectFrom('li_reminder_policies').selectAll().where('merchant_id', '=', merchantId).executeTakeFirst()
  return row === undefined ? DEFAULT_REMINDER_POLICY : { enabled: row.enabled, firstAfterSeconds: row.first_after_s, everySeconds: row.every_s, maxReminders: row.max_reminders }
}

/** Set the merchant's reminder policy (validated by the caller); the policy stored. */
export async function setReminderPolicy (db: Db, merchantId: string, policy: ReminderPolicy): Promise<ReminderPolicy> {
  const values = { enabled: policy.enabled, first_after_s: policy.firstAfterSeconds, every_s: policy.everySeconds, max_reminders: policy.maxReminders }
  await db.insertInto('li_reminder_policies').values({ merchant_id: merchantId, ...values })
    .onConflict((oc) => oc.column('merchant_id').doUpdateSet({ ...values, updated_at: new Date() })).execute()
  return policy
}

/** A link due its next reminder, with the policy of its merchant that made it due. */
export interface DueReminder {
  linkId: string
  reminder: number
  policy: ReminderPolicy
}

/**
 * Links due a reminder at `now`, oldest last e-mail first: issued (so not paid, canceled, failed
 * or anything else), e-mailed, not expired, fewer reminders than the merchant's enabled policy
 * allows, last e-mail older than its interval, and no claim of that reminder left `sending`
 * (being sent, or lost in a crash: never sent again). Per enabled merchant, one range of the
 * partial index li_links_reminder_due_idx, never a scan of all links. The read model trails
 * the log: the caller checks each link again on its events before sending.
 */
export async function findDueReminders (db: Db, now: Date, limit: number): Promise<DueReminder[]> {
  const rows = await sql<{ link_id: string, reminders_sent: number, first_after_s: number, every_s: number, max_reminders: number }>`
    SELECT l.link_id, l.reminders_sent, p.first_after_s, p.every_s, p.max_reminders
    FROM li_reminder_policies p
    CROSS JOIN LATERAL (
      SELECT l.link_id, l.reminders_sent, l.last_emailed_at FROM li_links l
      WHERE l.merchant_id = p.merchant_id AND l.status = 'issued' AND l.last_emailed_at IS NOT NULL
        AND l.last_emailed_at <= ${now}::timestamptz - make_interval(secs => least(p.first_after_s, p.every_s))
        AND l.last_emailed_at <= ${now}::timestamptz - make_interval(secs => CASE WHEN l.reminders_sent = 0 THEN p.first_after_s ELSE p.every_s END)
        AND l.reminders_sent < p.max_reminders
        AND l.expires_at > ${now}::timestamptz
        AND NOT EXISTS (SELECT 1 FROM li_reminder_claims c WHERE c.link_id = l.link_id AND c.reminder = l.reminders_sent + 1 AND c.status = 'sending')
      ORDER BY l.last_emailed_at
      LIMIT ${limit}
    ) l
    WHERE p.enabled
    ORDER BY l.last_emailed_at
    LIMIT ${limit}`.execute(db)
  return rows.rows.map((r) => ({
    linkId: r.link_id,
    reminder: r.reminders_sent + 1,
    policy: { enabled: true, firstAfterSeconds: r.first_after_s, everySeconds: r.every_s, maxReminders: r.max_reminders }
  }))
}

/** `claimed`: this caller sends it. Otherwise the claim that exists: being sent (or lost in a crash), or accepted. */
export type ReminderClaim = { claimed: true } | { claimed: false, status: 'sending' | 'accepted', messageId: string | null }

/** Claim reminder `reminder` of a link before sending it: one claim per link and number, ever (migrations/0024). */
export async function claimReminder (db: Db, linkId: string, reminder: number): Promise<ReminderClaim> {
  const inserted = await db.insertInto('li_reminder_claims').values({ link_id: linkId, reminder, status: 'sending', message_id: null, accepted_at: null })
    .onConflict((oc) => oc.columns(['link_id', 'reminder']).doNothing()).returning('link_id').executeTakeFirst()
  if (inserted !== undefined) return { claimed: true }
  const row = await db.selectFrom('li_reminder_claims').select(['status', 'message_id']).where('link_id', '=', linkId).where('reminder', '=', reminder).executeTakeFirst()
  if (row === undefined) return { claimed: false, status: 'sending', messageId: null }
  return { claimed: false, status: row.status, messageId: row.message_id }
}

/** The SMTP server accepted the reminder: from here `reminded` can be recorded again after any crash. */
export async function acceptReminder (db: Db, linkId: string, reminder: number, messageId: string): Promise<void> {
  await db.updateTable('li_reminder_claims').set({ status: 'accepted', message_id: messageId, accepted_at: new Date() })
    .where('link_id', '=', linkId).where('reminder', '=', reminder).execute()
}

/** The reminder certainly was not sent: give the claim back so a later sweep may try again. */
export async function releaseReminder (db: Db, linkId: string, reminder: number): Promise<void> {
  await db.deleteFrom('li_reminder_claims').where('link_id', '=', linkId).where('reminder', '=', reminder).where('status', '=', 'sending').execute()
}
