import { onTeardown, testRegistry, type TestContext } from '@paylinks/test-kit'
import { createEventStore, type EventStore } from '../src/index.js'
import { createMigratedTestDatabase } from '../src/testing.js'

/** An event store on a fresh migrated database, closed at teardown. */
export async function createStore (t: TestContext, options: { pollIntervalMs?: number } = {}): Promise<EventStore & { url: string }> {
  const { url } = await createMigratedTestDatabase(t)
  const store = await createEventStore({ connectionString: url, registry: testRegistry, pollIntervalMs: options.pollIntervalMs ?? 200 })
  onTeardown(t, () => store.close())
  return Object.assign(store, { url })
}
