// Heavy: two projector processes, the active one SIGKILLed while events keep coming.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { paymentLinkStream } from '@paylinks/contracts'
import { readCheckpoint } from '@paylinks/event-store'
import { freePort, onTeardown, spawnService, until } from '@paylinks/test-kit'
import { INTEGRATION_SUBSCRIBER } from '../src/integration.js'
import { createWorld, registry } from './helpers.js'

const PROJECTOR = fileURLToPath(new URL('../src/server.ts', import.meta.url))
const merchantId = 'mer_failover1'
const meta = { correlationId: 'test', producer: 'link-issuer' }

t.test('a SIGKILLed projector\'s standby should resume from the checkpoint, and order systems should get each integration event once', async (t) => {
  const world = await createWorld(t)
  const start = async (): Promise<ReturnType<typeof spawnService>> =>
    spawnService(t, PROJECTOR, { ...world.env, PORT: String(await freePort()), PROJECTION_RECONCILE_MS: '200', LOG_LEVEL: 'info', LOG_FORMAT: 'json' })
  const issued: string[] = []
  let publishing = true
  const load = (async () => {
    while (publishing) {
      const linkId = `lnk_${randomBytes(12).toString('base64url')}`
      const streamId = paymentLinkStream(linkId)
      await world.publisher.publish([
        registry.create('payment-link.requested', { linkId, merchantId, reference: `ref-${linkId.slice(-8)}`, amount: { value: 1500, currencyCode: 'GBP' }, expiresAt: '2030-01-01T00:00:00.000Z', sendEmail: false, source: 'api' }, { streamId, metadata: meta }),
        registry.create('payment-link.issued', { linkId, merchantId, paymentIntentId: 'pi_sandbox_abcdefghijklmnopqrstuv', url: 'http://127.0.0.1:4010/checkout/pi_sandbox_abcdefghijklmnopqrstuv', expiresAt: '2030-01-01T00:00:00.000Z' }, { streamId, metadata: meta })
      ], { expectedLastSubjectSequence: 0 })
      issued.push(linkId)
      await sleep(20)
    }
  })()
  onTeardown(t, async () => { publishing = false; await load.catch(() => {}) })
  const integrationMessages = async (): Promise<number> => (await world.messaging.jsm.streams.info(world.env.INTEGRATION_STREAM!).then((i) => i.state.messages, () => 0))

  const active = await start()
  await until(async () => await integrationMessages() >= 20, 60_000, 'the first projector publishes')
  const standby = await start()
  await standby.waitFor(/Server listening/, 60_000)
  await active.kill('SIGKILL')
  const killedAt = Date.now()
  const at = await readCheckpoint(world.store.db, INTEGRATION_SUBSCRIBER)
  // The dead process's sessions end with its sockets, and their advisory locks with them.
  await until(async () => await readCheckpoint(world.store.db, INTEGRATION_SUBSCRIBER) > at, { timeoutMs: 30_000, intervalMs: 20, what: 'the standby moves the checkpoint on' })
  const moved = Date.now() - killedAt
  const activeLine = standby.output().split('\n').find((l) => l.includes(`"subscriber":"${INTEGRATION_SUBSCRIBER}"`) && l.includes('subscriber active'))
  const lockedAfter = activeLine === undefined ? undefined : (JSON.parse(activeLine) as { time: number }).time - killedAt
  t.comment(`after the SIGKILL the standby held the integration lock in ${lockedAfter ?? '?'} ms and committed its first batch (from position ${at}) in ${moved} ms`)

  const sofar = issued.length
  await until(() => issued.length >= sofar + 50, 60_000, 'more links after the take-over')
  publishing = false
  await load
  const head = Math.max(...(await world.store.readAll(0, 100_000)).map((e) => e.position))
  await until(async () => await world.store.head() >= head && await readCheckpoint(world.store.db, INTEGRATION_SUBSCRIBER) >= head, 60_000, 'the integration publisher caught up')
  await until(async () => {
    const { rows } = await world.store.db.selectFrom('es_checkpoints').select('position').where('name', 'like', 'projection.%').execute().then((r) => ({ rows: r }))
    return rows.length > 0 && rows.every((r) => r.position >= head)
  }, 60_000, 'the projections caught up')
  // Every link.issued exactly once on the integration stream, though the killed process may
  // have published part of a batch it never checkpointed (the standby published it again: the
  // same message ids, dropped by JetStream as duplicates).
  const info = await world.messaging.jsm.streams.info(world.env.INTEGRATION_STREAM!)
  const links: string[] = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await world.messaging.jsm.streams.getMessage(world.env.INTEGRATION_STREAM!, { seq })
    const body = msg?.json<{ type: string, linkId: string }>()
    if (body === undefined) continue
    if (body.type === 'link.issued') links.push(body.linkId)
  }
  t.equal(links.length, issued.length, `${issued.length} links, as many link.issued messages`)
  t.same([...new Set(links)].sort(), [...issued].sort(), 'each link once')
  t.match(standby.output(), /subscriber active/, 'the standby took over')
})
