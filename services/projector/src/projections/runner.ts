import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Transaction } from 'kysely'
import { createEventRegistry } from '@paylinks/contracts'
import {
  createStoreSubscriber, readCheckpoint, replayParked, type EventStore, type Executor, type ParkedEvent, type ReplayResult, type StoreSubscriber
} from '@paylinks/event-store'
import type { ProjectorTables } from '../tables.js'
import { tableNamer, type Projection } from './projection.js'

interface Log {
  info: (o: object, m: string) => void
  error: (o: object, m: string) => void
}

interface Generation {
  name: string
  generation: number
  version: number
  status: 'building' | 'active' | 'retired'
}

export interface ProjectionStatus {
  name: string
  version: number
  active?: { generation: number, version: number, position: number }
  building?: { generation: number, version: number, position: number }
  head: number
}

export const subscriberName = (name: string, generation: number): string => `projection.${name}.g${generation}`

/**
 * Keeps every projection's generations running: an active one serving through the `analytics`
 * views, and, when the code's version differs from the active one's (or a rebuild was asked
 * for), a building one filled from position 0 into fresh tables. Once the building generation
 * has caught up with the store, one transaction swaps the views and retires the old tables.
 * Several runners may reconcile at once: subscribers are elected per generation, swaps lock
 * the generation row.
 */
export class ProjectionRunner {
  private readonly subscribers = new Map<string, StoreSubscriber>()
  private stopping = false
  private loop: Promise<void> | undefined
  private readonly stopController = new AbortController()

  constructor (private readonly options: { store: EventStore, projections: Projection[], intervalMs?: number, log?: Log, onParked?: (parked: ParkedEvent) => void }) {}

  private get db (): Executor { return this.options.store.db }

  async generations (name: string): Promise<Generation[]> {
    const rows = await sql<Generation>`SELECT name, generation, version, status FROM projections.generations WHERE name = ${name} ORDER BY generation`.execute(this.db)
    return rows.rows
  }

  /** Ask for a rebuild of `name` from zero (a no-op when one is already building). */
  async requestRebuild (name: string): Promise<number> {
    const projection = this.projection(name)
    const existing = (await this.generations(name)).find((g) => g.status === 'building')
    if (existing !== undefined) return existing.generation
    return await this.createGeneration(projection)
  }

  private projection (name: string): Projection {
    const projection = this.options.projections.find((p) => p.name === name)
    if (projection === undefined) throw new Error(`unknown projection '${name}' (known: ${this.options.projections.map((p) => p.name).join(', ')})`)
    return projection
  }

  private async createGeneration (projection: Projection): Promise<number> {
    return await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`projection-generations.${projection.name}`}))`.execute(trx)
      const building = await sql<{ generation: number }>`SELECT generation FROM projections.generations WHERE name = ${projection.name} AND status = 'building'`.execute(trx)
      if (building.rows[0] !== undefined) return building.rows[0].generation
      const last = await sql<{ max: number | null }>`SELECT max(generation) AS max FROM projections.generations WHERE name = ${projection.name}`.execute(trx)
      const generation = Number(last.rows[0]?.max ?? 0) + 1
      await sql.raw(projection.createTables(tableNamer(generation))).execute(trx)
      await sql`INSERT INTO projections.generations (name, generation, version, status) VALUES (${projection.name}, ${generation}, ${projection.version}, 'building')`.execute(trx)
      this.options.log?.info({ projection: projection.name, generation, version: projection.version }, 'projection generation created; building from position 0')
      return generation
    })
  }

  private ensureSubscriber (projection: Projection, generation: number): void {
    const key = subscriberName(projection.name, generation)
    if (this.subscribers.has(key)) return
    const t = tableNamer(generation)
    const subscriber = createStoreSubscriber({
      store: this.options.store,
      name: key,
      registry: createEventRegistry(projection.events),
      batchSize: 10000,
      standbyPollMs: 500,
      ...(this.options.log === undefined ? {} : { log: this.options.log }),
      ...(this.options.onParked === undefined ? {} : { onParked: this.options.onParked }),
      handle: async (trx: Transaction<ProjectorTables>, events) => { await projection.apply(trx, events, t) }
    })
    subscriber.start()
    this.subscribers.set(key, subscriber)
  }

  private async stopSubscriber (name: string, generation: number): Promise<void> {
    const key = subscriberName(name, generation)
    const subscriber = this.subscribers.get(key)
    this.subscribers.delete(key)
    await subscriber?.stop()
  }

  /** Swap a caught-up building generation in, and retire the active one. */
  private async swap (projection: Projection, building: Generation): Promise<boolean> {
    const swapped = await this.db.transaction().execute(async (trx) => {
      const row = await sql<{ status: string }>`SELECT status FROM projections.generations WHERE name = ${projection.name} AND generation = ${building.generation} FOR UPDATE`.execute(trx)
      if (row.rows[0]?.status !== 'building') return false
      // Caught up means: its checkpoint has reached the head as seen inside this transaction.
      const head = await sql<{ head: number | null }>`SELECT max(position) AS head FROM es_events`.execute(trx)
      if (await readCheckpoint(trx, subscriberName(projection.name, building.generation)) < Number(head.rows[0]?.head ?? 0)) return false
      // Its read indexes, over the finished tables (its subscriber waits for them, then goes on).
      // One sort per index over the whole history can outlast the pool's statement timeout.
      await sql`SET LOCAL statement_timeout = 0`.execute(trx)
      await sql.raw(projection.createIndexes(tableNamer(building.generation))).execute(trx)
      await sql`UPDATE projections.generations SET status = 'retired' WHERE name = ${projection.name} AND status = 'active'`.execute(trx)
      await sql`UPDATE projections.generations SET status = 'active', activated_at = now() WHERE name = ${projection.name} AND generation = ${building.generation}`.execute(trx)
      for (const view of projection.views) await sql.raw(`DROP VIEW IF EXISTS ${view}`).execute(trx)
      await sql.raw(projection.createViews(tableNamer(building.generation))).execute(trx)
      return true
    })
    if (swapped) this.options.log?.info({ projection: projection.name, generation: building.generation }, 'projection generation active')
    return swapped
  }

  private async dropRetired (projection: Projection, generations: Generation[]): Promise<void> {
    for (const g of generations.filter((x) => x.status === 'retired')) {
      await this.stopSubscriber(projection.name, g.generation)
      const t = tableNamer(g.generation)
      await sql.raw(projection.tables.map((table) => `DROP TABLE IF EXISTS ${t(table)}`).join('; ')).execute(this.db)
    }
  }

  /** One pass: make the generations match the code, run their subscribers, swap when ready. */
  async reconcile (): Promise<void> {
    for (const projection of this.options.projections) {
      let generations = await this.generations(projection.name)
      const active = generations.find((g) => g.status === 'active')
      const building = generations.find((g) => g.status === 'building')
      if (building === undefined && (active === undefined || active.version !== projection.version)) {
        await this.createGeneration(projection)
        generations = await this.generations(projection.name)
      }
      for (const g of generations.filter((x) => x.status !== 'retired')) this.ensureSubscriber(projection, g.generation)
      const fresh = generations.find((g) => g.status === 'building')
      if (fresh !== undefined && await this.swap(projection, fresh)) generations = await this.generations(projection.name)
      await this.dropRetired(projection, generations)
    }
  }

  /**
   * Apply the events `name`'s live generations parked, with this code's registry: run it once
   * the projector is upgraded to read them. Returns what each generation replayed and what it
   * still cannot read.
   */
  async replayParked (name: string): Promise<Array<{ generation: number, subscriber: string } & ReplayResult>> {
    const projection = this.projection(name)
    const registry = createEventRegistry(projection.events)
    const out: Array<{ generation: number, subscriber: string } & ReplayResult> = []
    for (const g of await this.generations(name)) {
      if (g.status === 'retired') continue
      const subscriber = subscriberName(name, g.generation)
      const t = tableNamer(g.generation)
      const result = await replayParked(this.db, subscriber, { registry, apply: async (trx: Transaction<ProjectorTables>, events) => { await projection.apply(trx, events, t) } })
      out.push({ generation: g.generation, subscriber, ...result })
    }
    return out
  }

  /** Where each projection is: for /status, metrics and the CLI. */
  async status (): Promise<ProjectionStatus[]> {
    const head = await this.options.store.head()
    const out: ProjectionStatus[] = []
    for (const projection of this.options.projections) {
      const status: ProjectionStatus = { name: projection.name, version: projection.version, head }
      for (const g of await this.generations(projection.name)) {
        if (g.status === 'retired') continue
        status[g.status] = { generation: g.generation, version: g.version, position: await readCheckpoint(this.db, subscriberName(projection.name, g.generation)) }
      }
      out.push(status)
    }
    return out
  }

  start (): void {
    this.loop ??= (async () => {
      while (!this.stopping) {
        try {
          await this.reconcile()
        } catch (error) {
          this.options.log?.error({ err: error }, 'projection reconcile failed; trying again')
        }
        await sleep(this.options.intervalMs ?? 1000, undefined, { signal: this.stopController.signal }).catch(() => {})
      }
    })()
  }

  async stop (): Promise<void> {
    this.stopping = true
    this.stopController.abort()
    await this.loop
    await Promise.all([...this.subscribers.values()].map(async (s) => { await s.stop() }))
    this.subscribers.clear()
  }
}
