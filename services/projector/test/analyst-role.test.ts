import { randomUUID } from 'node:crypto'
import t from 'tap'
import pg from 'pg'
import { paymentLinkStream } from '@paylinks/contracts'
import { createDatabase, createEventStore, DATABASE_ROLES, record, type PositionedEvent } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown, roleUrl } from '@paylinks/test-kit'
import { maskContactDetails } from '../src/projections/personal-data.js'
import { payments } from '../src/projections/payments.js'
import { ProjectionRunner } from '../src/projections/runner.js'
import { buildHistory } from './fixtures/history.js'
import { registry } from './helpers.js'

const customer = { email: 'jane.doe+shop@example.co.uk', phone: '+44 7700 900123', name: 'Jane Quincey-Doe' }
const meta = { correlationId: 'analyst-test' }

/** Two links of a customer whose details also leak into free text: a Dojo error and a cancel reason. */
function customerLinks (after: number): PositionedEvent[] {
  const at = (minutes: number): Date => new Date(Date.parse('2026-11-03T10:00:00Z') + minutes * 60_000)
  const events = []
  for (const [i, linkId] of ['lnk_customer0000001', 'lnk_customer0000002'].entries()) {
    const options = (minutes: number): { streamId: string, metadata: typeof meta, occurredAt: Date } => ({ streamId: paymentLinkStream(linkId), metadata: meta, occurredAt: at(minutes + i * 10) })
    const amount = { value: 4200, currencyCode: 'GBP' as const }
    const personal = { description: `For ${customer.name}`, customer, metadata: { contact: customer.email } }
    // Recorded as v1, in clear (as before sealing existed): the strongest case for the views.
    const o = options(0)
    events.push({ id: randomUUID(), type: 'payment-link.requested', schemaVersion: 1, streamId: o.streamId, occurredAt: o.occurredAt.toISOString(), metadata: meta, data: { linkId, merchantId: 'mer_alpha01', reference: `ref-customer-${i}`, amount, ...personal, expiresAt: at(60 * 24).toISOString(), sendEmail: true, source: 'api' } })
    events.push(registry.create('payment-link.issue-failed', {
      linkId, merchantId: 'mer_alpha01', reason: `Dojo 400: customer.emailAddress '${customer.email}' / phone ${customer.phone} rejected`, retryable: i === 0
    }, options(1)))
  }
  const pi = 'pi_sandbox_customer000000000001'
  const first = paymentLinkStream('lnk_customer0000001')
  events.push(registry.create('payment-link.issued', { linkId: 'lnk_customer0000001', merchantId: 'mer_alpha01', paymentIntentId: pi, url: `http://127.0.0.1:4010/checkout/${pi}`, expiresAt: at(60 * 24).toISOString() }, { streamId: first, metadata: meta, occurredAt: at(2) }))
  events.push(registry.create('payment-link.sent', { linkId: 'lnk_customer0000001', channel: 'email' }, { streamId: first, metadata: meta, occurredAt: at(3) }))
  events.push(registry.create('payment-link.canceled', { linkId: 'lnk_customer0000001', reason: `${customer.name} called from ${customer.phone}: write to ${customer.email}` }, { streamId: first, metadata: meta, occurredAt: at(4) }))
  return events.map((event, i) => ({ position: after + i + 1, event }))
}

t.test('maskContactDetails should mask e-mail addresses and phone numbers but keep amounts, dates and ids', async (t) => {
  t.equal(maskContactDetails(`Dojo 400: '${customer.email}' / ${customer.phone} / (020) 7946 0958`), "Dojo 400: '[e-mail]' / [phone] / [phone]")
  t.equal(maskContactDetails('amount 1250 GBP on 2026-11-01 for pi_sandbox_xxxxxxxxxxxxxxxx12'), 'amount 1250 GBP on 2026-11-01 for pi_sandbox_xxxxxxxxxxxxxxxx12')
})

t.test('the analyst role should read every analytics view and find no customer e-mail, phone or name in it', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const recorder = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorder.destroy())
  const history = buildHistory({ merchants: ['mer_alpha01'], linksPerMerchant: 20, start: new Date('2026-11-01T00:00:00Z') })
  await record(recorder, [...history, ...customerLinks(history.length)])

  // The projection path as deployed: the runner as the projector's role.
  const store = await createEventStore({ connectionString: roleUrl(url, DATABASE_ROLES.projector), registry, pollIntervalMs: 50 })
  onTeardown(t, () => store.close())
  const runner = new ProjectionRunner({ store, projections: [payments], intervalMs: 50 })
  onTeardown(t, () => runner.stop())
  runner.start()
  const head = await store.head()
  for (let i = 0; ; i++) {
    const status = (await runner.status())[0]
    if (status?.active !== undefined && status.active.position >= head) break
    if (i > 800) throw new Error(`the payments projection did not catch up: ${JSON.stringify(status)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }

  const analyst = new pg.Client({ connectionString: roleUrl(url, DATABASE_ROLES.analyst) })
  await analyst.connect()
  onTeardown(t, () => analyst.end())
  const views = (await analyst.query<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relnamespace = 'analytics'::regnamespace AND relkind IN ('v', 'r', 'm') ORDER BY 1")).rows.map((r) => r.name)
  t.same(views, ['conversion_daily', 'daily_figures', 'payment_timeline', 'payments', 'time_to_pay'], 'the documented views')
  const needles = [customer.email, 'jane.doe', customer.phone, '7700900123', customer.name, 'Quincey']
  for (const view of views) {
    const rows = (await analyst.query<Record<string, unknown>>(`SELECT * FROM analytics.${view}`)).rows
    t.ok(rows.length > 0, `analytics.${view} has rows`)
    const cells = rows.flatMap((row) => Object.values(row).map((v) => v instanceof Date ? v.toISOString() : String(v)))
    for (const needle of needles) {
      const found = cells.filter((cell) => cell.includes(needle) || (/^\d+$/.test(needle) && cell.replace(/\D/g, '').includes(needle)))
      t.same(found, [], `analytics.${view} holds no '${needle}'`)
    }
  }
  const links = await analyst.query<{ link_id: string, status: string, failure_reason: string | null }>("SELECT link_id, status, failure_reason FROM analytics.payments WHERE link_id LIKE 'lnk_customer%' ORDER BY link_id")
  t.match(links.rows, [{ status: 'canceled' }, { status: 'failed', failure_reason: /^Dojo 400: customer.emailAddress '\[e-mail\]' \/ phone \[phone\] rejected$/ }], 'the customer\'s links are there, masked')
  const timeline = await analyst.query<{ summary: string }>("SELECT summary FROM analytics.payment_timeline WHERE link_id = 'lnk_customer0000001' ORDER BY position")
  t.same(timeline.rows.map((r) => r.summary).slice(-1), ['canceled by the merchant'])
  await t.rejects(analyst.query(`SELECT * FROM projections.links_g${(await runner.status())[0]!.active!.generation}`), { code: '42501' }, 'the generation tables behind the views are not the analyst\'s to read')
})
