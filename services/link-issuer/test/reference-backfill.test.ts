import { randomUUID } from 'node:crypto'
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createDatabase, DEFAULT_MIGRATIONS_FOLDER, migrateToLatest } from '@paylinks/event-store'
import { createTestDatabase, onTeardown } from '@paylinks/test-kit'
import { linkIdFor } from '../src/link.js'
import type { LinkIssuerTables } from '../src/tables.js'

const REFERENCES_MIGRATION = '0013_link_references.sql'

t.test('migration 0013 should claim the references and order ids of links requested before it, first request first', async (t) => {
  // The migrations before 0013 in a folder of their own: the database as it was before claims.
  const before = mkdtempSync(join(tmpdir(), 'li-migrations-'))
  onTeardown(t, () => { rmSync(before, { recursive: true, force: true }) })
  for (const name of readdirSync(DEFAULT_MIGRATIONS_FOLDER).filter((f) => f.endsWith('.sql') && f < REFERENCES_MIGRATION)) {
    copyFileSync(join(DEFAULT_MIGRATIONS_FOLDER, name), join(before, name))
  }
  const { url } = await createTestDatabase(t)
  const db = createDatabase<LinkIssuerTables>({ connectionString: url, max: 1 })
  onTeardown(t, () => db.destroy())
  await migrateToLatest(db, before)

  const merchantId = 'mer_backfill01'
  let position = 0
  const requested = (reference: string, causationId: string, orderId?: string): Record<string, unknown> => {
    const linkId = linkIdFor(merchantId, reference)
    position++
    return {
      position,
      event_id: randomUUID(),
      stream_id: `payment-link.${linkId}`,
      stream_version: 1,
      type: 'payment-link.requested',
      schema_version: 1,
      data: JSON.stringify({ linkId, merchantId, reference, amount: { value: 100, currencyCode: 'GBP' }, expiresAt: '2030-01-01T00:00:00.000Z', sendEmail: false, source: orderId === undefined ? 'api' : 'order', ...(orderId === undefined ? {} : { orderId }) }),
      metadata: JSON.stringify({ correlationId: `c-${position}`, causationId, producer: 'link-issuer' }),
      occurred_at: new Date()
    }
  }
  // The last one reuses an order id under another reference (possible before 0013): the first keeps it.
  await db.insertInto('es_events').values([
    requested('api-ref', 'idem:k1'),
    requested('order-ref', 'order:A-1', 'A-1'),
    requested('order-ref-2', 'order:A-1', 'A-1')
  ] as any).execute()

  await migrateToLatest(db)
  const rows = await db.selectFrom('li_references').select(['reference', 'link_id', 'requested_by', 'order_id']).where('merchant_id', '=', merchantId).orderBy('reference').execute()
  t.same(rows, [
    { reference: 'api-ref', link_id: linkIdFor(merchantId, 'api-ref'), requested_by: 'idem:k1', order_id: null },
    { reference: 'order-ref', link_id: linkIdFor(merchantId, 'order-ref'), requested_by: 'order:A-1', order_id: 'A-1' }
  ])
})
