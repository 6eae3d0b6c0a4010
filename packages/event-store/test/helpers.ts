import { createTestDatabase, onTeardown, testRegistry, type TestContext } from '@paylinks/test-kit'
import { createDatabase, createEventStore, migrateToLatest, type EventStore } from '../src/index.js'

/** A migrated database of this test's own. */
export async function createMigratedDatabase (t: TestContext): Promise<string> {
  const { url } = await createTestDatabase(t, {
    prepare: async (url) => {
      const db = createDatabase({ connectionString: url, max: 1 })
      try { await migrateToLatest(db) } finally { await db.destroy() }
    }
  })
  return url
}

/** An event store on a fresh migrated database, closed at teardown. */
export async function createStore (t: TestContext, options: { pollIntervalMs?: number } = {}): Promise<EventStore & { url: string }> {
  const url = await createMigratedDatabase(t)
  const store = await createEventStore({ connectionString: url, registry: testRegistry, pollIntervalMs: options.pollIntervalMs ?? 200 })
  onTeardown(t, () => store.close())
  return Object.assign(store, { url })
}
