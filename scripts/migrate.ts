// `pnpm migrate`: apply every pending migration as the tables' owner, then give the services'
// login roles the passwords found in the environment; exits non-zero on failure.
import { loadConfig } from '@paylinks/service-kit'
import { Type } from '@sinclair/typebox'
import { createDatabase, DATABASE_ROLES, migrateToLatest, setRolePasswords, type DatabaseRole } from '@paylinks/event-store'

// DB_PASSWORD_<SERVICE>: set where Postgres asks for passwords (compose, production); unset
// variables leave that role's password as it is.
const PASSWORDS = {
  DB_PASSWORD_EVENT_RECORDER: DATABASE_ROLES.eventRecorder,
  DB_PASSWORD_LINK_ISSUER: DATABASE_ROLES.linkIssuer,
  DB_PASSWORD_WEBHOOK_INGEST: DATABASE_ROLES.webhookIngest,
  DB_PASSWORD_PROJECTOR: DATABASE_ROLES.projector,
  DB_PASSWORD_WEBHOOK_DISPATCH: DATABASE_ROLES.webhookDispatch,
  DB_PASSWORD_CONSOLE: DATABASE_ROLES.console,
  DB_PASSWORD_ANALYST: DATABASE_ROLES.analyst
} as const

const config = loadConfig(Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/test', description: 'Postgres connection string, as the tables\' owner' }),
  MIGRATION_DATABASE_URL: Type.Optional(Type.String({ description: 'the owner, when DATABASE_URL names a service role' })),
  ...Object.fromEntries(Object.entries(PASSWORDS).map(([name, role]) => [name, Type.Optional(Type.String({ minLength: 12, description: `password of the ${role} role` }))]))
}))
const db = createDatabase({ connectionString: config.MIGRATION_DATABASE_URL ?? config.DATABASE_URL, max: 1, applicationName: 'migrate' })
try {
  const result = await migrateToLatest(db)
  const applied = result.results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? []
  console.log(applied.length === 0 ? 'migrations: nothing to apply' : `migrations applied: ${applied.join(', ')}`)
  const passwords: Partial<Record<DatabaseRole, string>> = {}
  for (const [name, role] of Object.entries(PASSWORDS)) {
    const value = (config as Record<string, unknown>)[name]
    if (typeof value === 'string') passwords[role] = value
  }
  await setRolePasswords(db, passwords)
  if (Object.keys(passwords).length > 0) console.log(`passwords set for: ${Object.keys(passwords).join(', ')}`)
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
} finally {
  await db.destroy()
}
