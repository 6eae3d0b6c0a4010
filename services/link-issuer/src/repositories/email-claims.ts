import type { Db } from '../tables.js'

/** `claimed`: this caller sends it. Otherwise the claim that exists: being sent (or lost in a crash), or accepted. */
export type EmailClaim = { claimed: true } | { claimed: false, status: 'sending' | 'accepted', messageId: string | null }

/** Claim a link's e-mail before sending it: one claim per link, ever (migrations/0015). */
export async function claimEmail (db: Db, linkId: string): Promise<EmailClaim> {
  const inserted = await db.insertInto('li_email_claims').values({ link_id: linkId, status: 'sending' })
    .onConflict((oc) => oc.column('link_id').doNothing()).returning('link_id').executeTakeFirst()
  if (inserted !== undefined) return { claimed: true }
  const row = await db.selectFrom('li_email_claims').select(['status', 'message_id']).where('link_id', '=', linkId).executeTakeFirst()
  // Released between our insert and this read: someone may be claiming it again; not ours.
  if (row === undefined) return { claimed: false, status: 'sending', messageId: null }
  return { claimed: false, status: row.status, messageId: row.message_id }
}

/** The SMTP server accepted the e-mail: from here `sent` can be recorded again after any crash. */
export async function acceptEmail (db: Db, linkId: string, messageId: string): Promise<void> {
  await db.updateTable('li_email_claims').set({ status: 'accepted', message_id: messageId, accepted_at: new Date() }).where('link_id', '=', linkId).execute()
}

/** The e-mail certainly was not sent: give the claim back so the sweep may try again. */
export async function releaseEmail (db: Db, linkId: string): Promise<void> {
  await db.deleteFrom('li_email_claims').where('link_id', '=', linkId).where('status', '=', 'sending').execute()
}
