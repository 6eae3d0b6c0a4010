import { mkdtemp, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { sql } from 'kysely'
import { createTestDatabase, onTeardown } from '@paylinks/test-kit'
import { createDatabase, DEFAULT_MIGRATIONS_FOLDER, EventStoreErrorCodes, migrateToLatest } from '../src/index.js'

t.test('migrateToLatest should apply once, be safe to run twice and from several processes at once', async (t) => {
  const { url } = await createTestDatabase(t)
  const dbs = [1, 2, 3].map(() => createDatabase({ connectionString: url, max: 2 }))
  onTeardown(t, async () => { await Promise.all(dbs.map(async (db) => { await db.destroy() })) })
  const results = await Promise.all(dbs.map(async (db) => await migrateToLatest(db)))
  const all = (await readdir(DEFAULT_MIGRATIONS_FOLDER)).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort()
  const applied = results.flatMap((r) => r.results?.filter((x) => x.status === 'Success').map((x) => x.migrationName) ?? [])
  t.same(applied.sort(), all, 'each migration applied exactly once across racing runners')
  const again = await migrateToLatest(dbs[0]!)
  t.same(again.results, [], 'nothing to do the second time')
  const recorded = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(dbs[0]!)
  t.same(recorded.rows.map((r) => r.name), all)
})

t.test('migrateToLatest should fail naming the broken migration and leave nothing half-applied', async (t) => {
  const { url } = await createTestDatabase(t)
  const folder = await mkdtemp(join(tmpdir(), 'migrations-'))
  await writeFile(join(folder, '0001_good.sql'), 'CREATE TABLE good (id int);')
  await writeFile(join(folder, '0002_bad.sql'), 'CREATE TABLE bad (id int); SELECT no_such_function();')
  const db = createDatabase({ connectionString: url, max: 1 })
  onTeardown(t, () => db.destroy())
  await t.rejects(migrateToLatest(db, folder), { code: EventStoreErrorCodes.migration, message: /migration 0002_bad failed: function no_such_function\(\) does not exist/ })
  const tables = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('good', 'bad')`.execute(db)
  t.equal(tables.rows[0]?.n, 0, 'the whole run rolled back')
  t.ok(DEFAULT_MIGRATIONS_FOLDER.endsWith('/migrations'))
})
