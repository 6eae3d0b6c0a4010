import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely'
import { createDatabase } from './database.js'
import { EventStoreError, EventStoreErrorCodes } from './errors.js'

/** The repository's `migrations/` folder. */
export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations', import.meta.url))

/** Plain ordered SQL files (`NNNN_what.sql`), each run whole, forward only. */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor (private readonly folder: string) {}

  async getMigrations (): Promise<Record<string, Migration>> {
    const files = (await readdir(this.folder)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort()
    const migrations: Record<string, Migration> = {}
    for (const file of files) {
      const text = await readFile(join(this.folder, file), 'utf8')
      migrations[file.replace(/\.sql$/, '')] = { up: async (db) => { await sql.raw(text).execute(db) } }
    }
    return migrations
  }
}

/**
 * Bring the database to the latest migration. Kysely's migrator records applied migrations in
 * `kysely_migration`, takes an advisory lock (two processes at once: one waits, then finds
 * nothing to do) and runs them in one transaction. Throws ES_MIGRATION naming the failed one.
 */
export async function migrateToLatest (db: Kysely<any>, folder = DEFAULT_MIGRATIONS_FOLDER): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(folder) })
  const result = await migrator.migrateToLatest()
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    const message = result.error instanceof Error ? result.error.message : String(result.error)
    throw new EventStoreError(EventStoreErrorCodes.migration, `migration ${failed} failed: ${message}`, { cause: result.error })
  }
  return result
}

/**
 * A service's MIGRATE_ON_START: apply pending migrations as the owner, through its own short-lived
 * connection to `MIGRATION_DATABASE_URL` when set; otherwise on `db`, which under a service role
 * can only confirm that nothing is pending (it fails with ES_MIGRATION naming what is).
 */
export async function migrateOnStart (db: Kysely<any>, config: { MIGRATION_DATABASE_URL?: string | undefined }): Promise<MigrationResultSet> {
  if (config.MIGRATION_DATABASE_URL === undefined) return await migrateToLatest(db)
  const owner = createDatabase({ connectionString: config.MIGRATION_DATABASE_URL, max: 1, applicationName: 'migrate' })
  try {
    return await migrateToLatest(owner)
  } finally {
    await owner.destroy()
  }
}
