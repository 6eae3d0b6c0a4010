import { Counter, Gauge, type Registry } from 'prom-client'
import type { Messaging } from '@paylinks/messaging'
import { DeadLetterKinds, type DeadLetterKind, type RecorderStatus } from './recorder.js'

/**
 * Recorder metrics. Lag is measured on scrape against the stream: events published but not yet
 * committed to the store, and how long the oldest of them has waited. Alert on
 * `event_recorder_retention_headroom_seconds` long before it reaches zero: past it, JetStream
 * drops events the store never saw.
 */
export function recorderMetrics (registry: Registry, options: { messaging: Messaging, stream: string, maxAgeMs: number, status: () => RecorderStatus }) {
  const recorded = new Counter({ name: 'event_recorder_events_recorded_total', help: 'Events inserted into the store.', registers: [registry] })
  const skipped = new Counter({ name: 'event_recorder_duplicates_skipped_total', help: 'Events skipped because the store already had their id.', registers: [registry] })
  const deadLetters = new Counter({
    name: 'event_recorder_dead_letters_total',
    help: 'Messages on the events stream the record refused (kept in es_dead_letters), by reason.',
    labelNames: ['reason'] as const,
    registers: [registry]
  })
  // Every reason from the start, at 0: an alert on increase() needs the series to exist.
  for (const reason of Object.values(DeadLetterKinds)) deadLetters.inc({ reason }, 0)
  const batches = new Counter({ name: 'event_recorder_batches_total', help: 'Committed batches.', registers: [registry] })

  const active = new Gauge({ name: 'event_recorder_active', help: '1 when this instance holds the lock and records.', registers: [registry], collect () { this.set(options.status().active ? 1 : 0) } })

  let cache: { at: number, lagEvents: number, lagSeconds: number } | undefined
  async function lag (): Promise<{ lagEvents: number, lagSeconds: number }> {
    if (cache !== undefined && Date.now() - cache.at < 500) return cache
    const { lastSeq } = options.status()
    const info = await options.messaging.jsm.streams.info(options.stream)
    const lagEvents = Math.max(0, info.state.last_seq - lastSeq)
    let lagSeconds = 0
    if (lagEvents > 0) {
      const next = await options.messaging.jsm.streams.getMessage(options.stream, { seq: Math.max(lastSeq + 1, info.state.first_seq) }).catch(() => null)
      if (next !== null) lagSeconds = Math.max(0, (Date.now() - next.time.getTime()) / 1000)
    }
    cache = { at: Date.now(), lagEvents, lagSeconds }
    return cache
  }
  const lagEvents = new Gauge({
    name: 'event_recorder_lag_events',
    help: 'Events on the stream not yet committed to the store (as seen by this instance).',
    registers: [registry],
    async collect () { this.set((await lag().catch(() => ({ lagEvents: NaN }))).lagEvents) }
  })
  const lagSeconds = new Gauge({
    name: 'event_recorder_lag_seconds',
    help: 'Age of the oldest event not yet committed to the store.',
    registers: [registry],
    async collect () { this.set((await lag().catch(() => ({ lagSeconds: NaN }))).lagSeconds) }
  })
  const retentionHeadroom = new Gauge({
    name: 'event_recorder_retention_headroom_seconds',
    help: 'Time left before JetStream drops the oldest unrecorded event (stream max age minus its age).',
    registers: [registry],
    async collect () { this.set(options.maxAgeMs / 1000 - (await lag().catch(() => ({ lagSeconds: NaN }))).lagSeconds) }
  })

  return {
    gauges: { active, lagEvents, lagSeconds, retentionHeadroom },
    onBatch (batch: { recorded: number, skipped: number, deadLetters: DeadLetterKind[] }) {
      batches.inc()
      recorded.inc(batch.recorded)
      skipped.inc(batch.skipped)
      for (const reason of batch.deadLetters) deadLetters.inc({ reason })
    }
  }
}
