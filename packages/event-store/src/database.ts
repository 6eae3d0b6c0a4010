import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { trackClient } from './copy.js'
import type { EventStoreTables } from './tables.js'
import { propagatesTraces, traceQueries } from './tracing.js'

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
  /**
   * A transaction left open this long is ended by the server (its locks with it), so a process
   * frozen mid-transaction cannot hold rows or a checkpoint forever. Default 60 s.
   */
  idleInTransactionTimeoutMs?: number
  /**
   * Prepare the statements a connection runs repeatedly (named, parsed and planned once per
   * connection). Default true; turn off behind a pooler that cannot keep them (PgBouncer in
   * transaction mode before 1.21).
   */
  prepareStatements?: boolean
  /** Lost connections are reported here (they are replaced on the next query either way). */
  log?: { warn: (obj: object, msg: string) => void }
}

// TCP keepalive finds a peer that vanished without closing (a cut network, a dead host) in
// about half a minute instead of the kernel's two hours.
const KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 }

/** A Kysely instance over a pg pool with our type parsing and time-outs. Close with `destroy()`. */
export function createDatabase<T = EventStoreTables> (options: DatabaseOptions): Kysely<T> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    application_name: options.applicationName ?? 'paylinks',
    ...KEEPALIVE,
    types
  })
  const lost = (error: Error, state: string): void => {
    options.log?.warn({ err: error, state }, 'a Postgres connection was lost; the next query opens a new one')
  }
  // A connection that drops (server restart, failover, pg_terminate_backend) must not crash the
  // process. The pool handles idle clients ('error' on the pool; it discards them). A client
  // checked out and between queries (a session holding an advisory lock, a subscriber waiting
  // for its next batch) emits 'error' on itself, which with no listener is an uncaught
  // exception: listen on every client. Its next query then fails, the caller starts over, and
  // the pool discards the broken client on release.
  pool.on('error', (error) => { lost(error, 'idle') })
  pool.on('connect', (client) => { client.on('error', (error) => { lost(error, 'checked out') }) })
  // copyRows finds a transaction's client by its backend's pid.
  pool.on('connect', (client) => { trackClient(client, true) })
  pool.on('remove', (client) => { trackClient(client, false) })
  // Before tracing's wrapper: spans show the statement as the caller wrote it.
  if (options.prepareStatements !== false) pool.on('connect', (client) => { prepareRepeatedStatements(client) })
  if (propagatesTraces()) {
    const database = databaseName(options.connectionString)
    pool.on('connect', (client) => { traceQueries(client, database) })
  }
  return new Kysely<T>({ dialect: new PostgresDialect({ pool }) })
}

/** A text is prepared on a connection the second time it runs there, up to this many per connection. */
const MAX_PREPARED = 200
/** How many texts seen once a connection remembers (texts built per call, say an IN list, stay unprepared). */
const MAX_SEEN = 1000

type Query = (...args: unknown[]) => unknown

/**
 * Postgres parses, analyses and plans an unnamed statement on every execution; for the
 * statements a service runs all day (a claim, a batch insert, a checkpoint move) that costs as
 * much as running them. A statement text seen twice on a connection runs as a named prepared
 * statement from then on (pg parses it once per connection; Postgres keeps its plan, generic
 * once that is as good). Only calls with parameters and no callback, as Kysely makes them.
 * A prepared statement whose result columns a migration changed fails once with "cached plan
 * must not change result type" (0A000): that text then runs unnamed on this connection.
 */
export function prepareRepeatedStatements (client: pg.PoolClient | pg.Client): void {
  const original = client.query.bind(client) as Query
  const seen = new Set<string>()
  const prepared = new Map<string, string>()
  const unnamed = new Set<string>()
  let next = 0
  const query: Query = (...args) => {
    const [text, values] = args
    if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || unnamed.has(text)) return original(...args)
    let name = prepared.get(text)
    if (name === undefined) {
      if (!seen.has(text) || prepared.size >= MAX_PREPARED) {
        if (seen.size < MAX_SEEN) seen.add(text)
        return original(...args)
      }
      seen.delete(text)
      name = `paylinks_${next++}`
      prepared.set(text, name)
    }
    return (original({ name, text, values }) as Promise<unknown>).catch((error: unknown) => {
      if ((error as { code?: string }).code === '0A000') {
        prepared.delete(text)
        unnamed.add(text)
      }
      throw error
    })
  }
  client.query = query as typeof client.query
}

function databaseName (connectionString: string): string {
  try {
    return decodeURIComponent(new URL(connectionString).pathname.slice(1)) || 'postgres'
  } catch {
    return 'postgres'
  }
}

/** A single client with the same parsing, for LISTEN and advisory locks held across calls. Listen for its 'error'. */
export function createClient (options: DatabaseOptions): pg.Client {
  return new pg.Client({ connectionString: options.connectionString, application_name: options.applicationName ?? 'paylinks', ...KEEPALIVE, types })
}
