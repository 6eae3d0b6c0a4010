import { Type, type Static } from '@sinclair/typebox'

/** The environment a process that reads or writes the store needs. */
export const DatabaseConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/test', description: 'Postgres connection string' }),
  MIGRATION_DATABASE_URL: Type.Optional(Type.String({ description: 'the tables\' owner, for MIGRATE_ON_START (DATABASE_URL names the service\'s own role); unset: DATABASE_URL' })),
  DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 100 })
})
export type DatabaseConfig = Static<typeof DatabaseConfigSchema>
