// pnpm projections <command>: see `usage` below.
import { parseArgs } from 'node:util'
import { Type } from '@sinclair/typebox'
import { createEventRegistry, domainEvents } from '@paylinks/contracts'
import { createEventStore, DatabaseConfigSchema, listParked, migrateOnStart, type ReplayResult } from '@paylinks/event-store'
import { loadConfig } from '@paylinks/service-kit'
import { INTEGRATION_SUBSCRIBER } from './integration.js'
import { projections } from './projections/index.js'
import { ProjectionRunner } from './projections/runner.js'

const usage = `usage: pnpm projections <command>
  status            each projection's active and building generation, position and lag
  rebuild <name>    replay <name> from zero into a new generation while the current one keeps
                    serving, then swap (waits until done; a running projector may do the work)
  parked            the events each subscriber parked because it could not read them
  replay-parked [name]
                    apply the parked events of projection <name> (default: every one) with
                    this code: run it after upgrading the projector
projections: ${projections.map((p) => p.name).join(', ')}`

const { positionals } = parseArgs({ allowPositionals: true, options: {} })
const [command, name] = positionals
if (command !== 'status' && command !== 'rebuild' && command !== 'parked' && command !== 'replay-parked') {
  console.error(usage)
  process.exit(2)
}
if (command === 'replay-parked' && name !== undefined && !projections.some((p) => p.name === name)) {
  console.error(`unknown projection '${name}'\n${usage}`)
  process.exit(2)
}
if (command === 'rebuild' && (name === undefined || !projections.some((p) => p.name === name))) {
  console.error(`${name === undefined ? 'rebuild needs a projection name' : `unknown projection '${name}'`}\n${usage}`)
  process.exit(2)
}

const config = loadConfig(Type.Composite([DatabaseConfigSchema, Type.Object({})]))
const store = await createEventStore({ connectionString: config.DATABASE_URL, registry: createEventRegistry(domainEvents), poolSize: 4, applicationName: 'projections-cli' })
await migrateOnStart(store.db, config)
const runner = new ProjectionRunner({ store, projections, intervalMs: 500 })
try {
  if (command === 'status') {
    for (const s of await runner.status()) {
      const line = (g?: { generation: number, version: number, position: number }): string => g === undefined ? '-' : `g${g.generation} (v${g.version}) at ${g.position}, ${s.head - g.position} behind`
      console.log(`${s.name}: active ${line(s.active)}; building ${line(s.building)}; store head ${s.head}`)
    }
  } else if (command === 'parked') {
    const parked = await listParked(store.db)
    for (const p of parked) console.log(`${p.subscriber} @${p.position} ${p.type} v${p.schemaVersion} (${p.eventId}), parked ${p.parkedAt}: ${p.reason}`)
    console.log(`${parked.length} parked event(s) waiting for a replay`)
  } else if (command === 'replay-parked') {
    let stillParked = 0
    const report = (subscriber: string, r: ReplayResult): void => {
      stillParked += r.stillParked.length
      console.log(`${subscriber}: replayed ${r.replayed.length}, still unreadable ${r.stillParked.length}`)
      for (const p of r.stillParked) console.log(`  @${p.position} ${p.type} v${p.schemaVersion}: ${p.reason}`)
    }
    for (const p of projections.filter((x) => name === undefined || x.name === name)) {
      for (const g of await runner.replayParked(p.name)) report(g.subscriber, g)
    }
    const integration = (await listParked(store.db, { subscriber: INTEGRATION_SUBSCRIBER })).length
    if (integration > 0) console.log(`${INTEGRATION_SUBSCRIBER}: ${integration} parked; the projector replays them when it starts (it holds the NATS connection)`)
    if (stillParked > 0) process.exitCode = 1
  } else {
    const generation = await runner.requestRebuild(name!)
    console.log(`rebuilding ${name} as generation ${generation}; the current generation serves until it has caught up`)
    runner.start()
    for (;;) {
      const s = (await runner.status()).find((x) => x.name === name)!
      if (s.active?.generation === generation) break
      if (s.building !== undefined) process.stdout.write(`\r  ${s.building.position} / ${s.head} events`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    console.log(`\n${name}: generation ${generation} is active`)
  }
} finally {
  await runner.stop()
  await store.close()
}
