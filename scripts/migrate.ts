// `pnpm migrate`: apply every pending migration to DATABASE_URL; exits non-zero on failure.
import { loadConfig } from '@paylinks/service-kit'
import { Type } from '@sinclair/typebox'
import { createDatabase, migrateToLatest } from '@paylinks/event-store'

const config = loadConfig(Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/test', description: 'Postgres connection string' })
}))
const db = createDatabase({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'migrate' })
try {
  const result = await migrateToLatest(db)
  const applied = result.results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? []
  console.log(applied.length === 0 ? 'migrations: nothing to apply' : `migrations applied: ${applied.join(', ')}`)
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
} finally {
  await db.destroy()
}
