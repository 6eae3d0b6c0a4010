// pnpm bench:store — the event core's speed, each figure against a raw baseline in the same run,
// on the local Postgres and NATS. Sizes via BENCH_EVENTS (default 200000) and BENCH_SECONDS (10).
import { setTimeout as sleep } from 'node:timers/promises'
import os from 'node:os'
import pg from 'pg'
import { sql } from 'kysely'
import { createDatabase, createEventStore, migrateToLatest, type EventStoreTables } from '@paylinks/event-store'
import { connectMessaging, createEventPublisher, encodeEvent, ensureStream, subjectFor } from '@paylinks/messaging'
import { credit, testRegistry, TEST_DATABASE_URL, TEST_NATS_URL } from '@paylinks/test-kit'
import { createRecorder } from '../src/recorder.js'

const BACKLOG = Number(process.env.BENCH_EVENTS ?? 200_000)
const STEADY_SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
const silent = { info () {}, warn () {}, error (o: object, m: string) { console.error(m, o) }, trace () {} }
const rows: Array<[string, string, string, string, string]> = []
const row = (...cells: string[]): void => { rows.push(cells as [string, string, string, string, string]) }
const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000))
const pct = (a: number, b: number): string => `${Math.round(100 * a / b)} %`

async function withDatabase<T> (fn: (url: string) => Promise<T>): Promise<T> {
  const name = `bench_${suffix}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  try {
    return await fn(url.toString())
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

async function inFlight (total: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) await task(next++)
  }))
  return performance.now() - started
}

const messaging = await connectMessaging({ servers: TEST_NATS_URL, name: 'bench-store', timeoutMs: 30_000 })
const streams: string[] = []
async function stream (label: string, maxAgeMs = 3_600_000): Promise<{ name: string, prefix: string }> {
  const name = `BENCH_${label}_${suffix}`
  const prefix = `bench${suffix}.${label.toLowerCase()}`
  streams.push(name)
  await ensureStream(messaging.jsm, { name, subjects: [`${prefix}.>`], maxAgeMs })
  return { name, prefix }
}

try {
  // 1. Publishing: messaging (validate, encode, headers, msg id, ack) vs raw js.publish, 64 in flight.
  const PUBLISHES = 20_000
  const raw = await stream('RAW')
  const events = Array.from({ length: PUBLISHES }, (_, i) => credit(`ledger.s${i % 500}`))
  const payloads = events.map(encodeEvent)
  const rawMs = await inFlight(PUBLISHES, 64, async (i) => await messaging.js.publish(subjectFor(raw.prefix, events[i]!.streamId), payloads[i]!, { msgID: events[i]!.id }))
  const ours = await stream('PUB')
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: ours.prefix, registry: testRegistry })
  const oursMs = await inFlight(PUBLISHES, 64, async (i) => await publisher.publish([events[i]!]))
  row('publish, 64 in flight (events/s)', String(rate(PUBLISHES, oursMs)), `${rate(PUBLISHES, rawMs)} raw js.publish`, pct(rawMs, oursMs), '≥ 70 %')

  await withDatabase(async (url) => {
    const db = createDatabase<EventStoreTables>({ connectionString: url, max: 4 })
    await migrateToLatest(db)

    // 2. Catch-up: a backlog of BACKLOG events on the stream, recorded from zero, vs raw
    //    100-row INSERTs of the same rows into a table of the same shape.
    const backlog = await stream('BACKLOG')
    const backlogEvents = Array.from({ length: BACKLOG }, (_, i) => credit(`ledger.b${i % 5000}`))
    await inFlight(BACKLOG, 256, async (i) => await messaging.js.publish(subjectFor(backlog.prefix, backlogEvents[i]!.streamId), encodeEvent(backlogEvents[i]!), { msgID: backlogEvents[i]!.id }))

    await sql`CREATE TABLE bench_raw (LIKE es_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`.execute(db)
    const versions = new Map<string, number>()
    const rawRows = backlogEvents.map((e, i) => {
      const v = (versions.get(e.streamId) ?? 0) + 1
      versions.set(e.streamId, v)
      return { position: i + 1, event_id: e.id, stream_id: e.streamId, stream_version: v, type: e.type, schema_version: 1, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata), occurred_at: e.occurredAt }
    })
    let started = performance.now()
    for (let i = 0; i < rawRows.length; i += 100) {
      await db.insertInto('bench_raw' as 'es_events').values(rawRows.slice(i, i + 100) as any).execute()
    }
    const insertMs = performance.now() - started

    const recorder = createRecorder({ db, messaging, stream: backlog.name, subjectPrefix: backlog.prefix, durable: `bench_${suffix}`, batchSize: 1000, lockId: 99, standbyPollMs: 50, retryDelayMs: 100, log: silent })
    started = performance.now()
    recorder.start()
    while (recorder.status().lastSeq < BACKLOG) await sleep(5)
    const catchUpMs = performance.now() - started
    row(`recorder catch-up, ${BACKLOG} events (events/s)`, String(rate(BACKLOG, catchUpMs)), `${rate(BACKLOG, insertMs)} raw 100-row INSERTs`, pct(insertMs, catchUpMs), '≥ 40 %')

    // 3. Live: publish ack -> visible to a store subscriber, at a steady 1,000 events/s.
    const store = await createEventStore({ connectionString: url, pollIntervalMs: 1000 })
    const acked = new Map<number, number>() // seq -> ack time
    const latencies: number[] = []
    const controller = new AbortController()
    let read = 0
    const ids = new Set<string>()
    const follower = (async () => {
      for await (const batch of store.subscribe({ after: BACKLOG, signal: controller.signal, batchSize: 1000 })) {
        const now = performance.now()
        for (const e of batch) {
          read++
          ids.add(e.id)
          const at = acked.get(e.position)
          if (at !== undefined) latencies.push(now - at)
        }
      }
    })()
    const livePublisher = createEventPublisher({ js: messaging.js, subjectPrefix: backlog.prefix, registry: testRegistry })
    const total = STEADY_SECONDS * 1000
    const t0 = performance.now()
    const sends: Array<Promise<void>> = []
    for (let i = 0; i < total; i++) {
      const due = t0 + i // one per millisecond
      const wait = due - performance.now()
      if (wait > 1) await sleep(wait)
      sends.push(livePublisher.publish([credit(`ledger.l${i % 100}`)]).then(([ack]) => { acked.set(ack!.seq, performance.now()) }))
    }
    await Promise.all(sends)
    while (read < total) await sleep(5)
    controller.abort()
    await follower
    latencies.sort((a, b) => a - b)
    const q = (p: number): string => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1)
    row('publish ack -> visible to subscriber, 1,000/s (ms)', `p50 ${q(0.5)}, p99 ${q(0.99)}`, '-', '-', 'p99 < 50 ms')

    // 4. Counts: every event published is recorded once and read once.
    const recorded = await db.selectFrom('es_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    const published = BACKLOG + total
    const distinct = await db.selectFrom('es_events').select((eb) => eb.fn.count<string>('event_id').distinct().as('n')).executeTakeFirstOrThrow()
    row('events published / recorded / read live', `${published} / ${recorded.n} / ${read}`, '-', '-', `all ${published} / ${published} / ${total}`)
    row('lost / duplicated (store)', `${published - Number(distinct.n)} / ${Number(recorded.n) - Number(distinct.n)}`, '-', '-', '0 / 0')
    row('lost / duplicated (live reader)', `${total - ids.size} / ${read - ids.size}`, '-', '-', '0 / 0')
    await recorder.stop()
    await store.close()
    await db.destroy()
  })
} finally {
  for (const name of streams) await messaging.jsm.streams.delete(name).catch(() => false)
  await messaging.close()
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
console.log(`\nbench:store on ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}\n`)
const header = ['figure', 'measured', 'baseline (same run)', 'ratio', 'target']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
for (const r of [header, widths.map((w) => '-'.repeat(w)), ...rows]) console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`)
