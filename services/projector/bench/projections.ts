// pnpm bench:projections — the payments projection catching up on a stored history (default one
// million events; BENCH_EVENTS to change), against a raw ordered read of the same rows in the
// same run; then live lag while events are appended at a steady rate (BENCH_RATE per second);
// then the analyst reads (dashboard data, daily figures and conversion over 60 days) at
// BENCH_LINKS links (default 1,000,000), beside the scan conversion used to be (same run).
// Projecting 5M events would take most of the time budget on 2 cores, so the links beyond the
// projected ones are generated in SQL straight into the active generation's tables and rollups,
// and the bench checks that the rollups still give the scan's answers before it times them.
// BENCH_PROFILE=<dir> writes a CPU profile of the catch-up (this process) to <dir>/catch-up.cpuprofile.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { sql } from 'kysely'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { createDatabase, createEventStore, migrateToLatest, readAll, readCheckpoint, record, type EventStoreTables } from '@paylinks/event-store'
import { percent, reportBench, TEST_DATABASE_URL } from '@paylinks/test-kit'
import { payments } from '../src/projections/payments.js'
import { tableNamer } from '../src/projections/projection.js'
import { ProjectionRunner, subscriberName } from '../src/projections/runner.js'
import { TIME_TO_PAY_ALPHA } from '../src/projections/time-to-pay.js'
import { conversion, conversionByScan, dailyFigures, dashboardData } from '../src/routes/queries.js'
import type { ProjectorTables } from '../src/tables.js'
import { projectionLag } from '../src/lag.js'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const RATE = Number(process.env.BENCH_RATE ?? 500)
const LIVE_SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const LINKS = Math.max(Number(process.env.BENCH_LINKS ?? 1_000_000), EVENTS / 5)
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 50)
const SCAN_REQUESTS = Number(process.env.BENCH_SCAN_REQUESTS ?? 10)
const DAY_MS = 86_400_000
// The history spans the 90 days before now, so that the dashboard's 14 days and 60-day ranges hold links.
const START = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 89 * DAY_MS)
const SPAN_MS = 90 * DAY_MS - 3_600_000
const PROJECTED = EVENTS / 5
/** Time to pay (ms) of link n: 2 s plus log-uniform up to about two days, the same in both generators. */
const payMs = (n: string): string => `(2000 + round(exp(((${n}::bigint * 7919) % 19000) / 1000.0)))::bigint`
const name = `bench_proj_${Date.now().toString(36)}`
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
const url = new URL(TEST_DATABASE_URL)
url.pathname = `/${name}`
const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000))
/** CPU seconds (user + system) of a process from /proc (0 once it is gone: callers keep the last seen). */
const cpuSeconds = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

try {
  const store = await createEventStore({ connectionString: url.toString(), registry: createEventRegistry(domainEvents), pollIntervalMs: 1000 })
  await migrateToLatest(store.db)
  // Generating the input takes longer than the services' statement timeout on a busy machine.
  const setup = createDatabase({ connectionString: url.toString(), max: 1, statementTimeoutMs: 0 })

  // A history of links of five events each (requested, issued, sent, webhook, paid or, one in
  // five, expired), written by the database itself: it is the input here, not what is measured.
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
        WHEN 4 THEN jsonb_build_object('linkId', 'lnk_bench' || lpad(((g - 1) / 5)::text, 12, '0'), 'paymentIntentId', 'pi_sandbox_' || lpad((g - 3)::text, 22, '0'),
          'from', 'issued', 'to', CASE WHEN (g - 1) / 5 % 5 = 4 THEN 'expired' ELSE 'paid' END, 'dojoStatus', CASE WHEN (g - 1) / 5 % 5 = 4 THEN 'Canceled' ELSE 'Captured' END,
          'amount', jsonb_build_object('value', 1000, 'currencyCode', 'GBP'),
          'capturedAmount', CASE WHEN (g - 1) / 5 % 5 = 4 THEN 0 ELSE 1000 END, 'refundedAmount', 0, 'source', 'webhook', 'observedAt', '2026-11-20T10:00:00Z')
      END,
      '{"correlationId":"bench"}'::jsonb,
      ${START.toISOString()}::timestamptz + ((g - 1) / 5) * ${SPAN_MS / PROJECTED}::float8 * interval '1 millisecond'
        + CASE (g - 1) % 5 WHEN 0 THEN interval '0' WHEN 1 THEN interval '1 second' WHEN 2 THEN interval '2 seconds'
          ELSE interval '1 second' + ${sql.raw(payMs('((g - 1) / 5)'))} * interval '1 millisecond' END
    FROM generate_series(1, ${EVENTS}) AS g`.execute(setup)
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
  // Where the catch-up's CPU goes: this process, and the Postgres backends serving this bench's
  // database (sampled as the wait polls, so a backend that leaves the pool keeps what it used).
  const backends = async (): Promise<number[]> => (await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(store.db)).rows.map((r) => r.pid)
  const backendCpu = new Map<number, { from: number, last: number }>()
  const sampleBackends = async (): Promise<void> => {
    for (const pid of await backends()) {
      const now = cpuSeconds(pid)
      const seen = backendCpu.get(pid)
      if (seen === undefined) backendCpu.set(pid, { from: now, last: now })
      else if (now > 0) seen.last = now
    }
  }
  await sampleBackends()
  const profiler = process.env.BENCH_PROFILE === undefined ? undefined : new Session()
  if (profiler !== undefined) {
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.start')
  }
  const loadBefore = os.loadavg()[0]!
  const cpuBefore = process.cpuUsage()
  const eluBefore = performance.eventLoopUtilization()
  started = performance.now()
  runner.start()
  let appliedMs: number | undefined
  for (;;) {
    const s = (await runner.status())[0]!
    await sampleBackends()
    if (s.active !== undefined && s.active.position >= EVENTS) break
    if (appliedMs === undefined && (s.building?.position ?? 0) >= EVENTS) appliedMs = performance.now() - started
    await sleep(100)
  }
  const catchUpMs = performance.now() - started
  const nodeCpu = process.cpuUsage(cpuBefore)
  const elu = performance.eventLoopUtilization(eluBefore)
  const load = `${loadBefore.toFixed(1)}–${os.loadavg()[0]!.toFixed(1)}`
  if (profiler !== undefined) {
    const { profile } = await profiler.post('Profiler.stop')
    mkdirSync(process.env.BENCH_PROFILE!, { recursive: true })
    writeFileSync(`${process.env.BENCH_PROFILE!}/catch-up.cpuprofile`, JSON.stringify(profile))
    profiler.disconnect()
  }
  const catchUpCpu = { node: (nodeCpu.user + nodeCpu.system) / 1e6, postgres: [...backendCpu.values()].reduce((a, b) => a + b.last - b.from, 0) }
  console.log(`catch-up ${(catchUpMs / 1000).toFixed(1)} s (every event applied after ${((appliedMs ?? catchUpMs) / 1000).toFixed(1)} s, then the swap): CPU ${catchUpCpu.node.toFixed(1)} s this process, ${catchUpCpu.postgres.toFixed(1)} s its Postgres backends; main thread busy ${Math.round(elu.utilization * 100)} %; load average ${load}`)

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
  const projected = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.payments`.execute(store.db)
  await runner.stop()

  // The read part at LINKS links: the links beyond the projected ones are generated (not
  // projected) into the active generation's tables, their rollups computed in SQL by the same
  // rules, then everything is checked against the scan before it is timed.
  const generation = (await runner.status())[0]!.active!.generation
  const t = tableNamer(generation)
  const generated = LINKS - PROJECTED
  started = performance.now()
  if (generated > 0) {
    await sql`
      INSERT INTO ${sql.raw(t('links'))} (link_id, merchant_id, reference, order_id, source, amount_value, currency, status, capture_mode, captured_amount, refunded_amount,
        payment_intent_id, url, failure_reason, created_at, issued_at, sent_at, paid_at, expired_at, expires_at, updated_at, last_position)
      SELECT 'lnk_gen' || lpad(n::text, 12, '0'), 'mer_bench' || (n % 20), 'gen-' || n, NULL, 'api', 1000 + n % 500, 'GBP',
        CASE WHEN n % 5 = 4 THEN 'expired' ELSE 'paid' END, 'Auto', CASE WHEN n % 5 = 4 THEN 0 ELSE 1000 + n % 500 END, 0,
        'pi_gen_' || n, 'http://127.0.0.1:4010/checkout/x', NULL, c, c + interval '1 second', c + interval '2 seconds',
        CASE WHEN n % 5 <> 4 THEN done END, CASE WHEN n % 5 = 4 THEN done END, timestamptz '2030-01-01', done, 0
      FROM (SELECT n, ${START.toISOString()}::timestamptz + (n - ${PROJECTED}) * ${SPAN_MS / generated}::float8 * interval '1 millisecond' AS c FROM generate_series(${PROJECTED}::int, ${LINKS - 1}::int) AS n) x,
        LATERAL (SELECT c + interval '1 second' + ${sql.raw(payMs('n'))} * interval '1 millisecond' AS done) d`.execute(setup)
    const gen = sql.raw('link_id LIKE \'lnk_gen%\'')
    const gamma = (1 + TIME_TO_PAY_ALPHA) / (1 - TIME_TO_PAY_ALPHA)
    await sql`
      INSERT INTO ${sql.raw(t('conversion'))} AS r (day, merchant_id, currency, requested, issued, sent, paid, time_to_pay)
      SELECT day, merchant_id, currency, sum(requested), sum(issued), sum(sent), sum(paid), coalesce(jsonb_object_agg(bucket, links) FILTER (WHERE bucket IS NOT NULL), '{}')
      FROM (SELECT day, coalesce(merchant_id, '*') AS merchant_id, currency, bucket, count(*) AS requested, count(issued_at) AS issued, count(sent_at) AS sent, count(paid_at) AS paid, count(bucket) AS links
        FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, merchant_id, currency, issued_at, sent_at, paid_at,
            CASE WHEN ms IS NULL THEN NULL WHEN ms = 0 THEN 0 ELSE sign(ms)::int * (greatest(0, ceil(ln(abs(ms)) / ln(${gamma}::float8)))::int + 1) END AS bucket
          FROM (SELECT *, round(extract(epoch FROM paid_at - issued_at) * 1000)::bigint AS ms FROM ${sql.raw(t('links'))} WHERE ${gen}) l) x
        GROUP BY GROUPING SETS ((day, merchant_id, currency, bucket), (day, currency, bucket))) g
      GROUP BY day, merchant_id, currency
      ON CONFLICT (merchant_id, day, currency) DO UPDATE SET requested = r.requested + EXCLUDED.requested, issued = r.issued + EXCLUDED.issued,
        sent = r.sent + EXCLUDED.sent, paid = r.paid + EXCLUDED.paid,
        time_to_pay = (SELECT coalesce(jsonb_object_agg(bucket, links), '{}') FROM (
          SELECT bucket, sum(n::int) AS links FROM (SELECT * FROM jsonb_each_text(r.time_to_pay) UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.time_to_pay)) AS e(bucket, n)
          GROUP BY bucket) AS s WHERE links <> 0)`.execute(setup)
    await sql`
      INSERT INTO ${sql.raw(t('daily'))} AS d (day, merchant_id, currency, issued, paid, captured, canceled, expired, failed, released, refunded, refunds, captured_amount, refunded_amount)
      SELECT day, merchant_id, currency, sum(issued), sum(paid), 0, 0, sum(expired), 0, 0, 0, 0, sum(amount), 0
      FROM (SELECT (issued_at AT TIME ZONE 'UTC')::date AS day, merchant_id, currency, 1 AS issued, 0 AS paid, 0 AS expired, 0 AS amount FROM ${sql.raw(t('links'))} WHERE ${gen}
        UNION ALL SELECT (paid_at AT TIME ZONE 'UTC')::date, merchant_id, currency, 0, 1, 0, captured_amount FROM ${sql.raw(t('links'))} WHERE ${gen} AND paid_at IS NOT NULL
        UNION ALL SELECT (expired_at AT TIME ZONE 'UTC')::date, merchant_id, currency, 0, 0, 1, 0 FROM ${sql.raw(t('links'))} WHERE ${gen} AND expired_at IS NOT NULL) e
      GROUP BY day, merchant_id, currency
      ON CONFLICT (day, merchant_id, currency) DO UPDATE SET issued = d.issued + EXCLUDED.issued, paid = d.paid + EXCLUDED.paid,
        expired = d.expired + EXCLUDED.expired, captured_amount = d.captured_amount + EXCLUDED.captured_amount`.execute(setup)
  }
  await sql.raw(payments.tables.map((table) => `ANALYZE ${t(table)}`).join('; ')).execute(setup)
  await setup.destroy()
  console.log(`generated ${generated} links beyond the ${projected.rows[0]!.n} projected (links, daily figures and rollups, in SQL) in ${((performance.now() - started) / 1000).toFixed(1)} s (setup)`)

  const db = store.db.withTables<Omit<ProjectorTables, keyof EventStoreTables>>()
  const lag = async (): Promise<unknown[]> => await projectionLag(store, runner)
  const today = new Date().toISOString().slice(0, 10)
  const sixty = { from: new Date(Date.now() - 59 * DAY_MS).toISOString().slice(0, 10), to: today }
  const fortnight = { from: new Date(Date.now() - 13 * DAY_MS).toISOString().slice(0, 10), to: today }
  // The rollups must give the scan's answers (counts exact, times within ALPHA) before being timed.
  let agree = true
  for (const range of [sixty, fortnight, { ...sixty, merchantId: 'mer_bench3' }]) {
    const [rollup, scan] = [await conversion(db, range) as any, await conversionByScan(db, range) as any]
    const close = (a: number | null, b: number | null): boolean => a === b || (a !== null && b !== null && Math.abs(a - b) <= TIME_TO_PAY_ALPHA * Math.abs(b) + 0.1)
    const ok = JSON.stringify(rollup.funnel) === JSON.stringify(scan.funnel) && close(rollup.timeToPaySeconds.median, scan.timeToPaySeconds.median) && close(rollup.timeToPaySeconds.p90, scan.timeToPaySeconds.p90)
    if (!ok) console.log('rollups and scan disagree', JSON.stringify(range), JSON.stringify(rollup), JSON.stringify(scan))
    agree &&= ok
  }
  const timed = async (n: number, f: () => Promise<unknown>): Promise<string> => {
    const ms: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await f()
      ms.push(performance.now() - t0)
    }
    ms.sort((a, b) => a - b)
    const at = (p: number): string => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(1)
    return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${ms[ms.length - 1]!.toFixed(1)} ms (${n} requests)`
  }
  const reads = [
    { figure: `dashboard data (14 days, every merchant) at ${LINKS} links`, measured: await timed(REQUESTS, async () => await dashboardData(db, { days: 14, merchantId: undefined, lag })), baseline: await timed(SCAN_REQUESTS, async () => await dashboardData(db, { days: 14, merchantId: undefined, lag, conversionOf: conversionByScan })) },
    { figure: `conversion over 60 days, every merchant, at ${LINKS} links`, measured: await timed(REQUESTS, async () => await conversion(db, sixty)), baseline: await timed(SCAN_REQUESTS, async () => await conversionByScan(db, sixty)) },
    { figure: `conversion over 60 days, one merchant of 20, at ${LINKS} links`, measured: await timed(REQUESTS, async () => await conversion(db, { ...sixty, merchantId: 'mer_bench3' })), baseline: await timed(SCAN_REQUESTS, async () => await conversionByScan(db, { ...sixty, merchantId: 'mer_bench3' })) },
    { figure: `daily figures over 60 days, every merchant, at ${LINKS} links`, measured: await timed(REQUESTS, async () => await dailyFigures(db, sixty)), baseline: '(read daily_figures before too)' }
  ]
  const links = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.payments`.execute(store.db)
  await store.close()

  const expected = EVENTS / 5 + RATE * LIVE_SECONDS
  reportBench('projections', `bench:projections — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; reads: ${PROJECTED + RATE * LIVE_SECONDS} links projected, ${generated} generated in SQL`, [
    { figure: `payments projection catch-up on ${EVENTS} stored events`, measured: `${rate(EVENTS, catchUpMs)} events/s`, baseline: `${rate(EVENTS, readMs)} events/s raw ordered read`, ratio: percent(readMs, catchUpMs), target: '≥ 50 %', met: readMs / catchUpMs >= 0.5 },
    { figure: 'catch-up CPU (this process; its Postgres backends)', measured: `${(catchUpCpu.node * 1e6 / EVENTS).toFixed(0)} µs; ${(catchUpCpu.postgres * 1e6 / EVENTS).toFixed(0)} µs per event; main thread busy ${Math.round(elu.utilization * 100)} %; load average ${load} (1 min, before–after)` },
    { figure: `live lag, commit → projection checkpoint, at ${RATE} events/s`, measured: `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms` },
    { figure: 'links projected', measured: String(projected.rows[0]!.n), target: String(expected), met: projected.rows[0]!.n === expected },
    { figure: 'rollup answers agree with the scan (counts equal, times within 1 %)', measured: agree ? 'yes' : 'NO', target: 'yes', met: agree },
    ...reads.map((r) => ({ ...r, figure: r.figure, target: 'p99 < 50 ms', met: Number(/p99 ([\d.]+)/.exec(r.measured)![1]) < 50 })),
    { figure: 'links read', measured: String(links.rows[0]!.n), target: String(LINKS + RATE * LIVE_SECONDS), met: links.rows[0]!.n === LINKS + RATE * LIVE_SECONDS }
  ])
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
