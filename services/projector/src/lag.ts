import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import { sql } from 'kysely'
import type { EventStore } from '@paylinks/event-store'
import type { ProjectionRunner } from './projections/runner.js'

export interface ProjectionLag {
  name: string
  generation: number | null
  building: number | null
  position: number
  head: number
  eventsBehind: number
  secondsBehind: number
}

/** How far each projection's active generation is behind the store: events, and the age of the oldest unapplied one. */
export async function projectionLag (store: EventStore, runner: ProjectionRunner): Promise<ProjectionLag[]> {
  const out: ProjectionLag[] = []
  for (const s of await runner.status()) {
    const position = s.active?.position ?? 0
    let secondsBehind = 0
    if (s.head > position) {
      const next = await sql<{ recorded_at: Date }>`SELECT recorded_at FROM es_events WHERE position > ${position} ORDER BY position LIMIT 1`.execute(store.db)
      const at = next.rows[0]?.recorded_at
      if (at !== undefined) secondsBehind = Math.max(0, (Date.now() - at.getTime()) / 1000)
    }
    out.push({ name: s.name, generation: s.active?.generation ?? null, building: s.building?.generation ?? null, position, head: s.head, eventsBehind: Math.max(0, s.head - position), secondsBehind: Math.round(secondsBehind * 1000) / 1000 })
  }
  return out
}

/** `projection_lag_events` and `projection_lag_seconds` per projection, computed on scrape. */
export function projectionLagGauges (fastify: FastifyInstance, store: EventStore, runner: ProjectionRunner): void {
  let cached: { at: number, lag: Promise<ProjectionLag[]> } | undefined
  const lag = async (): Promise<ProjectionLag[]> => {
    if (cached === undefined || Date.now() - cached.at > 250) cached = { at: Date.now(), lag: projectionLag(store, runner) }
    return await cached.lag
  }
  for (const [name, key, help] of [
    ['projection_lag_events', 'eventsBehind', 'Recorded events the active generation of a projection has not applied.'],
    ['projection_lag_seconds', 'secondsBehind', 'Age of the oldest recorded event the active generation has not applied.']
  ] as const) {
    fastify.metrics.registerMetric(new Gauge({
      name,
      help,
      labelNames: ['projection'] as const,
      registers: [],
      async collect () {
        for (const l of await lag()) this.set({ projection: l.name }, l[key])
      }
    }))
  }
}
