// pnpm bench:projections — the payments projection catching up on a stored history (default one
// million events; BENCH_EVENTS to change), against a raw ordered read of the same rows in the
// same run; then live lag while events are appended at a steady rate (BENCH_RATE per second).
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { sql } from 'kysely'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { createEventStore, migrateToLatest, readAll, readCheckpoint, record } from '@paylinks/event-store'
import { percent, reportBench, TEST_DATABASE_URL } from '@paylinks/test-kit'
import { payments } from '../src/projections/payments.js'
import { ProjectionRunner, subscriberName } from '../src/projections/runner.js'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const RATE = Number(process.env.BENCH_RATE ?? 500)
const LIVE_SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const name = `bench_proj_${Date.now().toString(36)}`
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
const url = new URL(TEST_DATABASE_URL)
url.pathname = `/${name}`
const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000))

try {
  const store = await createEventStore({ connectionString: url.toString(), registry: createEventRegistry(domainEvents), pollIntervalMs: 1000 })
  await migrateToLatest(store.db)

  // A history of links of five events each (requested, issued, sent, webhook, paid), written by
  // the database itself: it is the input here, not what is measured.
  let started = performance.now()
  await sql`
    INSERT INTO es_events (position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at)
    SELECT g, gen_random_uuid(), 'payment-link.lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), ((g - 1) % 5) + 1,
      (ARRAY['payment-link.requested', 'payment-link.issued', 'payment-link.sent', 'payment-link.webhook-received', 'payment-link.status-changed'])[((g - 1) % 5) + 1],
      1,
      CASE (g - 1) % 5
        WHEN 0 THEN jsonb_build_object('linkId', 'lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), 'merchantId', 'mer_bench' || ((g / 5) % 20), 'reference', 'ref-' || g,
          'amount', jsonb_build_object('value', 1000 + g % 500, 'currencyCode', 'GBP'), 'expiresAt', '2030-01-01T00:00:00Z', 'sendEmail', true, 'source', 'api')
        WHEN 1 THEN jsonb_build_object('linkId', 'lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), 'merchantId', 'mer_bench' || ((g / 5) % 20),
          'paymentIntentId', 'pi_sandbox_' || lpad(g::text, 22, '0'), 'url', 'http://127.0.0.1:4010/checkout/x', 'expiresAt', '2030-01-01T00:00:00Z')
        WHEN 2 THEN jsonb_build_object('linkId', 'lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), 'channel', 'email')
        WHEN 3 THEN jsonb_build_object('linkId', 'lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), 'paymentIntentId', 'pi_sandbox_' || lpad((g - 2)::text, 22, '0'),
          'dojoEventId', 'evt_' || g, 'event', 'payment_intent.status_updated', 'paymentStatus', 'Captured', 'receivedAt', '2026-11-20T10:00:00Z')
        ELSE jsonb_build_object('linkId', 'lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), 'paymentIntentId', 'pi_sandbox_' || lpad((g - 3)::text, 22, '0'),
          'from', 'issued', 'to', 'paid', 'dojoStatus', 'Captured', 'amount', jsonb_build_object('value', 1000, 'currencyCode', 'GBP'),
          'capturedAmount', 1000, 'refundedAmount', 0, 'source', 'webhook', 'observedAt', '2026-11-20T10:00:00Z')
      END,
      '{"correlationId":"bench"}'::jsonb,
      timestamptz '2026-11-01' + (g || ' seconds')::interval
    FROM generate_series(1, ${EVENTS}) AS g`.execute(store.db)
  console.log(`stored ${EVENTS} events in ${((performance.now() - started) / 1000).toFixed(1)} s (setup)`)

  // Baseline: read the log in order, 2000 at a time, doing nothing with it.
  started = performance.now()
  for (let after = 0; ;) {
    const batch = await readAll(store.db, after, 2000)
    if (batch.length === 0) break
    after = batch[batch.length - 1]!.position
  }
  const readMs = performance.now() - started

  const runner = new ProjectionRunner({ store, projections: [payments], intervalMs: 100 })
  started = performance.now()
  runner.start()
  for (;;) {
    const s = (await runner.status())[0]!
    if (s.active !== undefined && s.active.position >= EVENTS) break
    await sleep(200)
  }
  const catchUpMs = performance.now() - started

  // Live: append small batches at a steady rate (as the recorder does), and time each event
  // from its commit to the projection's checkpoint passing it.
  const committed = new Map<number, number>()
  const lags: number[] = []
  let stop = false
  const checkpoint = subscriberName('payments', (await runner.status())[0]!.active!.generation)
  const watcher = (async () => {
    let seen = EVENTS
    while (!stop || seen < EVENTS + RATE * LIVE_SECONDS) {
      const position = await readCheckpoint(store.db, checkpoint)
      const now = performance.now()
      for (let p = seen + 1; p <= position; p++) {
        const at = committed.get(p)
        if (at !== undefined) lags.push(now - at)
      }
      seen = Math.max(seen, position)
      await sleep(2)
    }
  })()
  const registry = createEventRegistry(domainEvents)
  const t0 = performance.now()
  let position = EVENTS
  for (let i = 0; i < RATE * LIVE_SECONDS; i++) {
    const due = t0 + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const linkId = `lnk_live${String(i).padStart(12, '0')}`
    position++
    await record(store.db, [{ position, event: registry.create('payment-link.requested', { linkId, merchantId: 'mer_bench1', reference: `live-${i}`, amount: { value: 500, currencyCode: 'GBP' }, expiresAt: '2030-01-01T00:00:00.000Z', sendEmail: false, source: 'api' }, { streamId: `payment-link.${linkId}`, metadata: { correlationId: 'bench' } }) }])
    committed.set(position, performance.now())
  }
  stop = true
  await watcher
  lags.sort((a, b) => a - b)
  const q = (p: number): string => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!.toFixed(1)
  const links = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.payments`.execute(store.db)
  await runner.stop()
  await store.close()

  const expected = EVENTS / 5 + RATE * LIVE_SECONDS
  reportBench('projections', `bench:projections — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`, [
    { figure: `payments projection catch-up on ${EVENTS} stored events`, measured: `${rate(EVENTS, catchUpMs)} events/s`, baseline: `${rate(EVENTS, readMs)} events/s raw ordered read`, ratio: percent(readMs, catchUpMs) },
    { figure: `live lag, commit → projection checkpoint, at ${RATE} events/s`, measured: `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms` },
    { figure: 'links projected', measured: String(links.rows[0]!.n), target: String(expected), met: links.rows[0]!.n === expected }
  ])
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
