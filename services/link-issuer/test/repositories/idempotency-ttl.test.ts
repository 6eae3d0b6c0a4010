import t from 'tap'
import { sql } from 'kysely'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown, roleUrl } from '@paylinks/test-kit'
import { pruneIdempotencyKeys } from '../../src/repositories/idempotency-ttl.js'
import type { LinkIssuerTables } from '../../src/tables.js'

// A database of its own: the prune is global, so no service's sweep may run beside it.
const { url } = await createMigratedTestDatabase(t)
const db = createDatabase<LinkIssuerTables>({ connectionString: roleUrl(url, DATABASE_ROLES.linkIssuer), max: 2 })
onTeardown(t, () => db.destroy())

t.test('pruneIdempotencyKeys should delete in bounded batches until nothing is older than the TTL', async (t) => {
  const keys = [10, 11, 12, 13, 14].map((i) => `prune-${i}`)
  await db.insertInto('li_idempotency_keys').values(keys.map((key, i) => ({
    merchant_id: 'mer_prune01', key, request_hash: 'h', link_id: `lnk_prune${i}000000000`, created_at: sql<Date>`now() - ${`${i < 4 ? 49 : 47} hours`}::interval`
  }))).execute()
  t.equal(await pruneIdempotencyKeys(db, { ttlHours: 48, batchSize: 3, maxBatches: 1 }), 3, 'one batch of three')
  t.equal(await pruneIdempotencyKeys(db, { ttlHours: 48, batchSize: 3, maxBatches: 5 }), 1, 'the rest')
  const left = await db.selectFrom('li_idempotency_keys').select('key').execute()
  t.same(left.map((r) => r.key), [keys[4]])
})
