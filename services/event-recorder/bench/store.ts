// pnpm bench:store — the event core's speed, each figure against a raw baseline in the same run,
// on the local Postgres and NATS. Sizes via BENCH_EVENTS (default 200000) and BENCH_SECONDS (10).
import { setTimeout as sleep } from 'node:timers/promises'
import os from 'node:os'
import pg from 'pg'
import { sql } from 'kysely'
import { createDatabase, createEventStore, migrateToLatest, type EventStoreTables } from '@paylinks/event-store'
import { connectMessaging, createEventPublisher, encodeEvent, ensureStream, subjectFor } from '@paylinks/messaging'
import { credit, percent, reportBench, testProducers, testRegistry, TEST_DATABASE_URL, TEST_NATS_URL, type BenchRow } from '@paylinks/test-kit'
import { createRecorder } from '../src/recorder.js'

const BACKLOG = Number(process.env.BENCH_EVENTS ?? 200_000)
const STEADY_SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
const silent = { info () {}, warn () {}, error (o: object, m: string) { console.error(m, o) }, trace () {} }
const rows: BenchRow[] = []
const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000))

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
  // 1. Publishing: messaging (validate, encode, headers, msg id, ack) vs raw js.publish, 64 in
  //    flight. Rounds alternate and the medians are compared: this machine's speed drifts.
  const PUBLISHES = 10_000
  const ROUNDS = 5
  const raw = await stream('RAW')
  const ours = await stream('PUB')
  const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: ours.prefix, registry: testRegistry })
  const rawRates: number[] = []
  const ourRates: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const events = Array.from({ length: PUBLISHES }, (_, i) => credit(`ledger.s${i % 500}`))
    const payloads = events.map(encodeEvent)
    rawRates.push(rate(PUBLISHES, await inFlight(PUBLISHES, 64, async (i) => await messaging.js.publish(subjectFor(raw.prefix, events[i]!.streamId), payloads[i]!, { msgID: events[i]!.id }))))
    const mine = Array.from({ length: PUBLISHES }, (_, i) => credit(`ledger.s${i % 500}`))
    ourRates.push(rate(PUBLISHES, await inFlight(PUBLISHES, 64, async (i) => await publisher.publish([mine[i]!]))))
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const [rawRate, ourRate] = [median(rawRates), median(ourRates)]
  rows.push({ figure: `publish through messaging, 64 in flight (median of ${ROUNDS} alternating rounds)`, measured: `${ourRate} events/s`, baseline: `${rawRate} events/s raw js.publish`, ratio: percent(ourRate, rawRate), target: '≥ 70 %', met: ourRate / rawRate >= 0.7 })

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

    const recorder = createRecorder({ db, messaging, stream: backlog.name, subjectPrefix: backlog.prefix, durable: `bench_${suffix}`, batchSize: 1000, lingerMs: 5, lockId: 99, standbyPollMs: 50, retryDelayMs: 100, log: silent, registry: testRegistry, producers: testProducers })
    started = performance.now()
    recorder.start()
    while (recorder.status().lastSeq < BACKLOG) await sleep(5)
    const catchUpMs = performance.now() - started
    rows.push({ figure: `recorder catch-up on ${BACKLOG} events`, measured: `${rate(BACKLOG, catchUpMs)} events/s`, baseline: `${rate(BACKLOG, insertMs)} events/s raw 100-row INSERTs`, ratio: percent(insertMs, catchUpMs), target: '≥ 40 %', met: insertMs / catchUpMs >= 0.4 })

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
    rows.push({ figure: 'publish ack → visible to a store subscriber, at 1,000 events/s', measured: `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`, target: 'p99 < 50 ms', met: Number(q(0.99)) < 50 })

    // 4. Counts: every event published is recorded once and read once.
    const recorded = await db.selectFrom('es_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    const published = BACKLOG + total
    const distinct = await db.selectFrom('es_events').select((eb) => eb.fn.count<string>('event_id').distinct().as('n')).executeTakeFirstOrThrow()
    const lost = published - Number(distinct.n)
    const duplicated = Number(recorded.n) - Number(distinct.n) + (read - ids.size)
    rows.push({ figure: 'events published / recorded / read live', measured: `${published} / ${recorded.n} / ${read}`, target: `${published} / ${published} / ${total}`, met: Number(recorded.n) === published && read === total })
    rows.push({ figure: 'lost / duplicated', measured: `${lost + (total - ids.size)} / ${duplicated}`, target: '0 / 0', met: lost + (total - ids.size) === 0 && duplicated === 0 })
    await recorder.stop()
    await store.close()
    await db.destroy()
  })
} finally {
  for (const name of streams) await messaging.jsm.streams.delete(name).catch(() => false)
  await messaging.close()
}

reportBench('store', `bench:store — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`, rows)
