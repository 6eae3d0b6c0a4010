import type { Kysely } from 'kysely'
import { createDatabase } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown, type TestContext } from '@paylinks/test-kit'
import type { MerchantTables } from '../src/index.js'

/** A migrated database of this test's own, seen through the merchants' tables; closed at teardown. */
export async function createDb (t: TestContext): Promise<Kysely<MerchantTables>> {
  const { url } = await createMigratedTestDatabase(t)
  const db = createDatabase<MerchantTables>({ connectionString: url, max: 2 })
  onTeardown(t, () => db.destroy())
  return db
}
