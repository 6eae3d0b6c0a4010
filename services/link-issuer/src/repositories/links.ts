import { sql, type Selectable } from 'kysely'
import { customerLookupFor } from '@paylinks/contracts'
import { decodeCursor, encodeCursor } from '@paylinks/service-kit'
import type { Db, LinksTable } from '../tables.js'

export interface LinkFilter {
  /** Only this merchant's links (undefined: every merchant's, for analyst keys). */
  merchantId?: string | undefined
  status?: string | undefined
  reference?: string | undefined
  /** References that start with it. */
  referencePrefix?: string | undefined
  /** Only links of these customers (cus_…): an e-mail search, hashed to its customers first. */
  customerIds?: string[] | undefined
  createdFrom?: string | undefined
  createdTo?: string | undefined
  limit: number
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined
}

export interface LinkPage {
  rows: Array<Selectable<LinksTable>>
  nextCursor: string | null
}

/**
 * A page of the links read model, newest first. The cursor is the (created_at, link_id) of
 * the last row served; a cursor this API did not make is a 400.
 */
export async function listLinks (db: Db, filter: LinkFilter): Promise<LinkPage> {
  let query = db.selectFrom('li_links').selectAll()
  if (filter.merchantId !== undefined) query = query.where('merchant_id', '=', filter.merchantId)
  if (filter.status !== undefined) query = query.where('status', '=', filter.status)
  if (filter.reference !== undefined) query = query.where('reference', '=', filter.reference)
  if (filter.referencePrefix !== undefined) query = query.where('reference', 'like', `${filter.referencePrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
  if (filter.customerIds !== undefined) query = query.where('customer_id', 'in', filter.customerIds.length === 0 ? [''] : filter.customerIds)
  if (filter.createdFrom !== undefined) query = query.where('created_at', '>=', new Date(filter.createdFrom))
  if (filter.createdTo !== undefined) query = query.where('created_at', '<', new Date(filter.createdTo))
  if (filter.cursor !== undefined) {
    const [createdAt, linkId] = decodeCursor(filter.cursor, ['date-time', 'string'])
    query = query.where(sql<boolean>`(created_at, link_id) < (${new Date(createdAt!)}::timestamptz, ${linkId})`)
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('link_id', 'desc').limit(filter.limit + 1).execute()
  const page = rows.slice(0, filter.limit)
  const last = page.at(-1)
  return { rows: page, nextCursor: rows.length > filter.limit && last !== undefined ? encodeCursor([last.created_at.toISOString(), last.link_id]) : null }
}

/** The live (not erased) customers of a merchant with this e-mail; none without a merchant. */
export async function customersByEmail (db: Db, merchantId: string | undefined, email: string): Promise<string[]> {
  const lookup = merchantId === undefined ? undefined : customerLookupFor(merchantId, { email })
  if (lookup === undefined) return []
  const rows = await db.selectFrom('pii_keys').select('subject_id').where('merchant_id', '=', merchantId!).where('lookup', '=', lookup).where('erased_at', 'is', null).execute()
  return rows.map((r) => r.subject_id)
}

/**
 * Links stuck in `requested` with no issue lease (a crash before the lease, a Dojo outage), or
 * issued with an e-mail asked for, neither sent nor claimed; untouched since `before`. Links with
 * a lease are the takeover sweep's (findAbandonedLeases); a claimed e-mail is never sent twice.
 */
export async function findStuckLinks (db: Db, before: Date, limit: number): Promise<string[]> {
  const rows = await db.selectFrom('li_links').select('link_id')
    .where((eb) => eb.or([
      eb.and([eb('status', '=', 'requested'), eb.not(eb.exists(eb.selectFrom('li_issue_leases').select('li_issue_leases.link_id').whereRef('li_issue_leases.link_id', '=', 'li_links.link_id')))]),
      eb.and([
        eb('status', '=', 'issued'), eb('email_requested', '=', true), eb('email_sent_at', 'is', null),
        eb.not(eb.exists(eb.selectFrom('li_email_claims').select('li_email_claims.link_id').whereRef('li_email_claims.link_id', '=', 'li_links.link_id').where('li_email_claims.status', '=', 'sending')))
      ])
    ]))
    .where('updated_at', '<', before)
    // Oldest first: a link left longest is resumed first.
    .orderBy('updated_at').limit(limit).execute()
  return rows.map((r) => r.link_id)
}
