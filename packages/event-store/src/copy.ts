import { randomUUID } from 'node:crypto'
import { finished } from 'node:stream/promises'
import { sql, type Kysely } from 'kysely'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { EventStoreError, EventStoreErrorCodes } from './errors.js'

// Kysely hands out no driver client, and COPY needs one: every client of a pool made by
// createDatabase is known here by its backend's pid, so the client under a transaction can be
// found from the transaction itself (one round trip) and COPY sent on it, inside that transaction.
const clients = new Map<number, Set<pg.PoolClient>>()

/** Called by createDatabase for each client its pool opens and closes. */
export function trackClient (client: pg.PoolClient, open: boolean): void {
  const pid = (client as unknown as { processID: number | null }).processID
  if (pid === null || pid === undefined) return
  const set = clients.get(pid) ?? new Set()
  if (open) set.add(client)
  else set.delete(client)
  if (set.size === 0) clients.delete(pid)
  else clients.set(pid, set)
}

// COPY's text format: a tab between columns, a newline after each row, \N for null, and
// backslash escapes for the four characters that would break a row.
const SPECIAL = /[\\\t\n\r]/
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
function field (value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  const text = typeof value === 'string'
    ? value
    : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value)
  return SPECIAL.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : text
}

// A transaction's client, once found: a second COPY in the same transaction (the same Kysely
// transaction object, which lives only as long as it) needs no look-up.
const underTransaction = new WeakMap<Kysely<any>, pg.PoolClient>()

async function findClient (db: Kysely<any>, table: string): Promise<pg.PoolClient> {
  // The token, local to this transaction, tells the client under it from any other client
  // whose backend has the same pid (on another server).
  const token = randomUUID()
  const found = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, set_config('paylinks.copy_session', ${token}, true)`.execute(db)
  for (const candidate of clients.get(found.rows[0]!.pid) ?? []) {
    const seen = await candidate.query<{ token: string | null }>("SELECT current_setting('paylinks.copy_session', true) AS token")
    if (seen.rows[0]?.token === token) return candidate
  }
  throw new EventStoreError(EventStoreErrorCodes.copyNeedsTransaction, `COPY into ${table} needs a transaction of a createDatabase pool`)
}

/**
 * Insert `rows` (each an array in the order of `columns`) into `table` with COPY, in the
 * caller's transaction: for bulk loads, far cheaper for Postgres than parsing the rows out of
 * json. `db` must be a transaction (or a connection inside one) of a createDatabase pool.
 * `table` and `columns` are SQL identifiers from code, never from input. `rows` may be a
 * generator that makes them as they are sent (Postgres parses the first while the rest are
 * made); if it throws, the COPY is abandoned (CopyFail) and the error thrown here.
 */
export async function copyRows (db: Kysely<any>, table: string, columns: readonly string[], rows: Iterable<readonly unknown[]>): Promise<void> {
  const iterator = rows[Symbol.iterator]()
  let next = iterator.next()
  if (next.done === true) return
  const client = underTransaction.get(db) ?? await findClient(db, table)
  underTransaction.set(db, client)
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`))
  const done = finished(stream)
  // A connection lost before Postgres accepts the COPY fails the stream (its 'error') but never
  // calls back the write waiting for that acceptance: `done` is observed from here (its
  // rejection is never unhandled, which would end the process) and the first write waits for
  // whichever comes first.
  done.catch(() => {})
  try {
    // The first row waits for Postgres to accept the COPY; the rest then go to the socket as
    // they are made, in pieces, while the caller's code that makes them runs.
    const first = line(next.value)
    await Promise.race([new Promise<void>((resolve, reject) => { stream.write(first, (error) => { if (error == null) resolve(); else reject(error) }) }), done])
    let chunk = ''
    for (next = iterator.next(); next.done !== true; next = iterator.next()) {
      chunk += line(next.value)
      if (chunk.length >= 65536) {
        stream.write(chunk)
        chunk = ''
      }
    }
    stream.end(chunk)
  } catch (error) {
    stream.destroy(error as Error)
    await done.catch(() => {})
    throw error
  }
  await done
}

function line (row: readonly unknown[]): string {
  let text = field(row[0])
  for (let i = 1; i < row.length; i++) text += '\t' + field(row[i])
  return text + '\n'
}
