// The durable floor's recorder (issue 16): the least a consumer can do to make JetStream
// messages permanent in Postgres, written with the raw libraries (pg, @nats-io) and none of the
// project's code. A durable pull consumer; each batch the server has delivered is inserted in one
// statement and acked after the commit. The benchmarks run it as a process beside their bare
// servers, so "the project vs its floor" compares the same durable work.
//
// env: DATABASE_URL, NATS_URL, FLOOR_STREAM, FLOOR_TABLE (created if missing)
import { connect } from '@nats-io/transport-node'
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream'
import pg from 'pg'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is required`)
  return value
}
const stream = env('FLOOR_STREAM')
const table = env('FLOOR_TABLE')
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table)) throw new Error('FLOOR_TABLE must be a plain identifier')

const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 1 })
await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (position bigint PRIMARY KEY, subject text NOT NULL, data jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`)

const nc = await connect({ servers: env('NATS_URL') })
const jsm = await jetstreamManager(nc)
const durable = `floor_${table}`
await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 })
const consumer = await jetstream(nc).consumers.get(stream, durable)
const messages = await consumer.consume({ max_messages: 1000 })

async function insert (batch: JsMsg[]): Promise<void> {
  await pool.query(
    `INSERT INTO ${table} (position, subject, data) SELECT * FROM unnest($1::bigint[], $2::text[], $3::jsonb[]) ON CONFLICT (position) DO NOTHING`,
    [batch.map((m) => m.seq), batch.map((m) => m.subject), batch.map((m) => m.string())]
  )
  for (const m of batch) m.ack()
}

let stopping = false
const stop = (): void => { stopping = true; void messages.close() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
console.log('floor recorder ready')

let batch: JsMsg[] = []
for await (const m of messages) {
  batch.push(m)
  // Everything delivered so far in one statement: a batch ends when nothing more is buffered.
  if (batch.length >= 500 || messages.getPending() === 0) {
    await insert(batch)
    batch = []
  }
  if (stopping) break
}
if (batch.length > 0) await insert(batch)
await nc.drain()
await pool.end()
