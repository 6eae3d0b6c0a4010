import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { EventStoreTables } from './tables.js'

// Positions are bigint in Postgres. JetStream sequences are far below 2^53, so they are read as
// numbers for this pool only (no global type parser is changed).
const INT8 = 20
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')
}

export interface DatabaseOptions {
  connectionString: string
  /** Pool size. Default 10. */
  max?: number
  /** Statements running longer are cancelled by the server. Default 30 s. */
  statementTimeoutMs?: number
  /** Shown in pg_stat_activity. */
  applicationName?: string
}

/** A Kysely instance over a pg pool with our type parsing and time-outs. Close with `destroy()`. */
export function createDatabase<T = EventStoreTables> (options: DatabaseOptions): Kysely<T> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    application_name: options.applicationName ?? 'paylinks',
    types
  })
  // An idle client whose connection drops (server restart, failover) must not crash the
  // process: the pool discards it and the next query connects afresh.
  pool.on('error', () => {})
  return new Kysely<T>({ dialect: new PostgresDialect({ pool }) })
}

/** A single client with the same parsing, for LISTEN and advisory locks held across calls. */
export function createClient (options: DatabaseOptions): pg.Client {
  return new pg.Client({ connectionString: options.connectionString, application_name: options.applicationName ?? 'paylinks', types })
}
