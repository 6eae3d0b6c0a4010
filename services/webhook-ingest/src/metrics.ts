import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { sql, type Kysely } from 'kysely'
import type { ConfirmLimiter } from './confirm-limiter.js'
import type { Tables } from './tables.js'

export const DELIVERY_OUTCOMES = ['accepted', 'duplicate', 'pending', 'unauthorized', 'too_large', 'malformed', 'unknown_merchant', 'error'] as const
export type DeliveryOutcome = typeof DELIVERY_OUTCOMES[number]

export interface IngestMetrics {
  /** A delivery was answered, `ms` after it arrived. */
  delivery: (outcome: DeliveryOutcome, ms: number) => void
  confirmation: (result: { source: string, outcome: string, lagSeconds: number }) => void
  reconcilerRun: (queued: number) => void
}

/** The service's Prometheus metrics, on the app's registry. */
export function ingestMetrics (registry: Registry, db: Kysely<Tables>, limiter: Pick<ConfirmLimiter, 'delivery' | 'limiting' | 'rate'>): IngestMetrics {
  const deliveries = new Counter({ name: 'webhook_ingest_deliveries_total', help: 'Dojo webhook deliveries by outcome.', labelNames: ['outcome'] as const, registers: [registry] })
  for (const outcome of DELIVERY_OUTCOMES) deliveries.inc({ outcome }, 0)
  const confirmations = new Counter({ name: 'webhook_ingest_confirmations_total', help: 'Confirmations with Dojo by source and outcome (changed, unchanged, failed).', labelNames: ['source', 'outcome'] as const, registers: [registry] })
  const lag = new Histogram({
    name: 'webhook_ingest_confirmation_lag_seconds',
    help: 'From a delivery (or a reconciler check being queued) to its confirmed decision.',
    labelNames: ['source'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [registry]
  })
  const runs = new Counter({ name: 'webhook_ingest_reconciler_runs_total', help: 'Reconciler runs.', registers: [registry] })
  const checked = new Counter({ name: 'webhook_ingest_reconciler_links_queued_total', help: 'Quiet links the reconciler queued for a check with Dojo.', registers: [registry] })
  // Read at scrape time: how much work waits.
  const queue = new Gauge({ name: 'webhook_ingest_pending_confirmations', help: 'Confirmations queued or being retried.', registers: [registry], async collect () { this.set(await count('wi_confirmations')) } })
  const unmatched = new Gauge({ name: 'webhook_ingest_unmatched_webhooks', help: 'Verified deliveries for intents with no known link.', registers: [registry], async collect () { this.set(await count('wi_unmatched_webhooks')) } })
  const yielding = new Gauge({ name: 'webhook_ingest_confirmations_yielding', help: '1 while deliveries arrive and confirmations run at most webhook_ingest_confirmation_rate_limit per second.', registers: [registry], collect () { this.set(limiter.limiting() ? 1 : 0) } })
  const rateLimit = new Gauge({ name: 'webhook_ingest_confirmation_rate_limit', help: 'Confirmations per second allowed while deliveries arrive (set by the endpoint\'s answer time; applies while yielding is 1).', registers: [registry], collect () { this.set(limiter.rate()) } })
  void queue
  void yielding
  void rateLimit
  void unmatched
  async function count (table: 'wi_confirmations' | 'wi_unmatched_webhooks'): Promise<number> {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db).catch(() => ({ rows: [] }))
    return rows[0]?.n ?? 0
  }
  return {
    delivery: (outcome, ms) => {
      deliveries.inc({ outcome })
      limiter.delivery(ms)
    },
    confirmation: ({ source, outcome, lagSeconds }) => {
      confirmations.inc({ source, outcome })
      if (outcome !== 'failed') lag.observe({ source }, lagSeconds)
    },
    reconcilerRun: (queued) => { runs.inc(); checked.inc(queued) }
  }
}
