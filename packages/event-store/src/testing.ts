import { createTestDatabase, type TestContext, type TestDatabase } from '@paylinks/test-kit'
import { createDatabase } from './database.js'
import { migrateToLatest } from './migrate.js'

/** A database of this test's own with every migration applied; dropped at teardown. */
export async function createMigratedTestDatabase (t: TestContext): Promise<TestDatabase> {
  return await createTestDatabase(t, {
    prepare: async (url) => {
      const db = createDatabase({ connectionString: url, max: 1 })
      try { await migrateToLatest(db) } finally { await db.destroy() }
    }
  })
}
