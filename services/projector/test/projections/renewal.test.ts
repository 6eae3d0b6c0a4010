// A renewal in the payments projection: both links' timelines name the other, and the old link's
// status stays what it was. Recorded events, the runner as the projector's role, real Postgres.
import t from 'tap'
import pg from 'pg'
import { paymentLinkStream } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES, record } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown, roleUrl, until } from '@paylinks/test-kit'
import { payments } from '../../src/projections/payments.js'
import { ProjectionRunner } from '../../src/projections/runner.js'
import { registry } from '../helpers.js'

const meta = { correlationId: 'renewal-test' }
const oldId = 'lnk_renewedold000001'
const newId = 'lnk_renewednew000001'

t.test('the payments timeline should show a renewal on both links and leave the old one canceled', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const recorder = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorder.destroy())
  const on = (linkId: string): { streamId: string, metadata: typeof meta } => ({ streamId: paymentLinkStream(linkId), metadata: meta })
  const requested = (linkId: string, extra = {}): ReturnType<typeof registry.create> => registry.create('payment-link.requested', {
    linkId, merchantId: 'mer_alpha01', reference: linkId === oldId ? 'inv-9' : 'inv-9~2', amount: { value: 700, currencyCode: 'GBP' }, expiresAt: '2026-12-27T12:00:00.000Z', sendEmail: false, source: 'api', ...extra
  }, on(linkId))
  const events = [
    requested(oldId),
    registry.create('payment-link.canceled', { linkId: oldId }, on(oldId)),
    requested(newId, { renewalOf: oldId }),
    registry.create('payment-link.renewed', { linkId: oldId, renewedAs: newId }, on(oldId))
  ]
  await record(recorder, events.map((event, i) => ({ position: i + 1, event })))

  const store = await createEventStore({ connectionString: roleUrl(url, DATABASE_ROLES.projector), registry, pollIntervalMs: 50 })
  onTeardown(t, () => store.close())
  const runner = new ProjectionRunner({ store, projections: [payments], intervalMs: 50 })
  onTeardown(t, () => runner.stop())
  runner.start()
  const head = await store.head()
  await until(async () => ((await runner.status())[0]?.active?.position ?? -1) >= head, { what: 'the projection caught up', timeoutMs: 20_000 })
  // Read as analysts do: the views.
  const analyst = new pg.Client({ connectionString: roleUrl(url, DATABASE_ROLES.analyst) })
  await analyst.connect()
  onTeardown(t, () => analyst.end())
  const timeline = async (linkId: string): Promise<Array<{ summary: string, status: string }>> =>
    (await analyst.query<{ summary: string, status: string }>('SELECT summary, status FROM analytics.payment_timeline WHERE link_id = $1 ORDER BY position', [linkId])).rows
  t.same((await timeline(oldId)).map((r) => r.summary), ['requested 700 GBP (api)', 'canceled by the merchant', `renewed by the customer as ${newId}`])
  t.equal((await timeline(oldId)).at(-1)!.status, 'canceled', 'the old link stays canceled')
  t.same((await timeline(newId)).map((r) => r.summary), [`requested 700 GBP (api), renewing ${oldId}`])
  const status = await analyst.query<{ status: string }>('SELECT status FROM analytics.payments WHERE link_id = $1', [oldId])
  t.equal(status.rows[0]?.status, 'canceled')
})
