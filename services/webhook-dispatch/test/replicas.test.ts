import t from 'tap'
import { sql } from 'kysely'
import { buildDispatch, createWorld, endpointFor, linkEvents, linkId, startReceiver, until } from './helpers.js'

const merchantId = 'mer_replicas01'

t.test('two replicas should share the work and deliver each event once per attempt', async (t) => {
  const world = await createWorld(t)
  const one = await buildDispatch(t, world.env)
  const two = await buildDispatch(t, world.env)
  const key = await world.keyFor(merchantId)
  const receivers = [await startReceiver(t), await startReceiver(t), await startReceiver(t)]
  // Created through both replicas' APIs.
  for (const [i, r] of receivers.entries()) await endpointFor(i % 2 === 0 ? one : two, key, r, ['payment_link.issued'])

  const links = 40
  const issued: string[] = []
  for (let i = 0; i < links; i++) {
    const { requested, issued: e } = linkEvents(linkId(), merchantId)
    issued.push(e.id)
    await world.issuer.publish([requested, e], { expectedLastSubjectSequence: 0 })
  }
  const done = await until(async () => {
    const r = await sql<{ delivered: number, attempts: number }>`
      SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, (SELECT count(*)::int FROM wd_attempts) AS attempts FROM wd_deliveries`.execute(world.db)
    return r.rows[0]!.delivered === links * receivers.length && r.rows[0]
  }, { timeoutMs: 60_000, what: 'every delivery delivered' })
  t.equal(done.attempts, links * receivers.length, 'one attempt per delivery')
  for (const r of receivers) {
    t.equal(r.received.length, links, 'each endpoint got each event once')
    t.same(new Set(r.received.map((x) => x.id)), new Set(issued))
    t.ok(r.received.every((x) => x.verifiedWith === 0))
  }
  const workers = await sql<{ worker: string }>`SELECT DISTINCT worker FROM wd_attempts`.execute(world.db)
  t.ok(workers.rows.length >= 1 && workers.rows.length <= 2, `attempts made by ${workers.rows.length} replica(s)`)
})
