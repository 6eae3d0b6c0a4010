/// <reference lib="dom" />
// The whole system end to end, every service a real process on the local Postgres and NATS,
// Dojo played by the sandbox, the customer by chromium. Heavy: it runs six processes.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { chromium, type Page } from 'playwright-core'
import { connect } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createApiKey, createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { freePort, onTeardown, roleUrl, spawnService, systemStreamsEnv, TEST_NATS_URL, until, type TestContext } from '@paylinks/test-kit'
import { payAtCheckout, SUCCESS_CARD } from '@paylinks/test-kit/browser'

const entry = (service: string): string => fileURLToPath(new URL(`../services/${service}/src/server.ts`, import.meta.url))
// Without these flags Debian's chromium reaches for the network, which is closed here.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

interface IntegrationMessage { subject: string, body: Record<string, any> }

interface System {
  merchantId: string
  apiKey: string
  url: { issuer: string, projector: string }
  /** Publish an order as an upstream order system does. */
  order: (order: Record<string, unknown>) => Promise<void>
  /** What an order system subscribed to the integration stream has received. */
  received: IntegrationMessage[]
  page: Page
}

/** Every service as a process, a merchant wired to the sandbox, an order-system subscriber, a browser. */
async function startSystem (t: TestContext): Promise<System> {
  const { url: databaseUrl } = await createMigratedTestDatabase(t)
  const streams = systemStreamsEnv(t, 'sys')
  const keys = randomBytes(32).toString('base64')
  const [sandboxPort, recorderPort, issuerPort, ingestPort, projectorPort] = await Promise.all([1, 2, 3, 4, 5].map(freePort))
  const url = (port: number | undefined): string => `http://127.0.0.1:${port!}`
  const shared = {
    ...streams,
    SECRETS_ENCRYPTION_KEYS: keys,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1'
  }

  // The merchant exists before webhook-ingest starts: it subscribes each merchant at start-up.
  const db = createDatabase<MerchantTables>({ connectionString: databaseUrl, max: 1 })
  onTeardown(t, () => db.destroy())
  const merchant = await createMerchant(db, createSecretBox([keys]), { name: 'Corner Café', dojoSecretKey: `sk_sandbox_${randomBytes(12).toString('hex')}`, dojoBaseUrl: url(sandboxPort) })
  const apiKey = (await createApiKey(db, { merchantId: merchant.id, label: 'system test' })).key

  // Each service logs in with its own role, as deployed.
  const roles: Record<string, string> = { 'event-recorder': DATABASE_ROLES.eventRecorder, 'link-issuer': DATABASE_ROLES.linkIssuer, 'webhook-ingest': DATABASE_ROLES.webhookIngest, projector: DATABASE_ROLES.projector }
  const start = (service: string, port: number | undefined, extra: Record<string, string> = {}): ReturnType<typeof spawnService> =>
    spawnService(t, entry(service), { ...shared, ...(roles[service] === undefined ? {} : { DATABASE_URL: roleUrl(databaseUrl, roles[service]) }), PORT: String(port), ...extra })
  const ready = async (service: string, port: number | undefined): Promise<void> => {
    await until(async () => await fetch(`${url(port)}/readyz`).then((r) => r.ok, () => false), { what: `${service} ready`, timeoutMs: 60_000, intervalMs: 100 })
  }
  start('dojo-sandbox', sandboxPort, { PUBLIC_URL: url(sandboxPort), WEBHOOK_RETRY_DELAYS_MS: '200,500,1000' })
  await ready('dojo-sandbox', sandboxPort)
  start('event-recorder', recorderPort)
  start('link-issuer', issuerPort, { PUBLIC_URL: url(issuerPort) })
  start('webhook-ingest', ingestPort, { PUBLIC_URL: url(ingestPort), RECONCILE_INTERVAL_MS: '2000', RECONCILE_QUIET_AFTER_MS: '20000' })
  start('projector', projectorPort, { PROJECTION_RECONCILE_MS: '200' })
  await Promise.all([['event-recorder', recorderPort], ['link-issuer', issuerPort], ['webhook-ingest', ingestPort], ['projector', projectorPort]].map(async ([s, p]) => { await ready(s as string, p as number) }))

  // An order system: publishes orders, and follows the integration stream.
  const nc = await connect({ servers: TEST_NATS_URL })
  onTeardown(t, () => nc.close())
  const js = jetstream(nc)
  const received: IntegrationMessage[] = []
  const consumer = await js.consumers.get(streams.INTEGRATION_STREAM!)
  const messages = await consumer.consume()
  onTeardown(t, async () => { await messages.close() })
  void (async () => { for await (const m of messages) received.push({ subject: m.subject, body: m.json() }) })()

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  onTeardown(t, () => browser.close())
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })).newPage()

  return {
    merchantId: merchant.id,
    apiKey,
    url: { issuer: url(issuerPort), projector: url(projectorPort) },
    order: async (order) => {
      await js.publish(`${streams.ORDERS_SUBJECT_PREFIX!}.v1.${merchant.id}`, JSON.stringify({ merchantId: merchant.id, ...order }), { msgID: String(order.orderId) })
    },
    received,
    page
  }
}

const pay = payAtCheckout
const SUCCESS = SUCCESS_CARD
const CHALLENGE = { number: '5200 0000 0000 1096', expiry: '12/29', cvv: '020' }
const DECLINED = { number: '4456 5300 0000 1013', expiry: '12/29', cvv: '341' }

async function api (system: System, base: string, path: string, init: RequestInit = {}): Promise<Response> {
  return await fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> ?? {}) } })
}

t.test('an order published on NATS should become a link that a customer pays, each status reaching the order system, the projection and the dashboard', async (t) => {
  const system = await startSystem(t)
  const { page } = system
  const cases = [
    { orderId: `ord-${randomBytes(4).toString('hex')}-ok`, value: 1250, pay: async () => { await pay(page, SUCCESS) } },
    {
      orderId: `ord-${randomBytes(4).toString('hex')}-3ds`,
      value: 4599,
      pay: async () => {
        await pay(page, CHALLENGE)
        await page.getByLabel('Verification code').fill('1234')
        await page.getByRole('button', { name: 'Submit' }).click()
      }
    },
    {
      orderId: `ord-${randomBytes(4).toString('hex')}-declined`,
      value: 800,
      pay: async () => {
        await pay(page, DECLINED)
        await page.getByText('Your card was declined').waitFor()
        await pay(page, SUCCESS)
      }
    }
  ]
  for (const c of cases) {
    await system.order({ orderId: c.orderId, amount: { value: c.value, currencyCode: 'GBP' }, description: `Order ${c.orderId}` })
    const issued = await until(() => system.received.find((m) => m.body.type === 'link.issued' && m.body.orderId === c.orderId), { what: `${c.orderId}: link.issued on NATS`, timeoutMs: 30_000, intervalMs: 100 })
    t.match(issued.body, { merchantId: system.merchantId, amount: { value: c.value, currencyCode: 'GBP' }, reference: c.orderId })
    await page.goto(issued.body.url)
    await c.pay()
    // Back from Dojo to our result page, which asked Dojo itself.
    await page.waitForURL(/\/links\/lnk_[^/]+\/result/, { timeout: 30_000 })
    await page.getByText('Your payment went through').waitFor({ timeout: 30_000 })
    const paid = await until(() => system.received.find((m) => m.body.type === 'payment.status-changed' && m.body.linkId === issued.body.linkId && m.body.status === 'paid'), { what: `${c.orderId}: paid on NATS (webhook, confirmation, projection)`, timeoutMs: 60_000, intervalMs: 100 })
    t.match(paid.body, { previousStatus: 'issued', orderId: c.orderId })
    const projected = await until(async () => {
      const res = await api(system, system.url.projector, `/v1/payments/${String(issued.body.linkId)}`)
      const body = res.ok ? await res.json() as { status: string } : undefined
      return body?.status === 'paid' ? body : undefined
    }, { what: `${c.orderId}: paid in the projection`, timeoutMs: 30_000, intervalMs: 100 })
    t.match(projected, { linkId: issued.body.linkId, amount: { value: c.value }, capturedAmount: c.value })
    const timeline = await (await api(system, system.url.projector, `/v1/payments/${String(issued.body.linkId)}/timeline`)).json() as { data: Array<{ type: string }> }
    t.ok(timeline.data.some((e) => e.type === 'payment-link.webhook-received'), 'the webhook is on the timeline')
  }
  t.equal(system.received.filter((m) => m.body.type === 'payment.status-changed').length, 3, 'each payment reached the order system once')

  // The dashboard shows them.
  await page.setViewportSize({ width: 1200, height: 900 })
  await page.goto(`${system.url.projector}/dashboard`)
  await page.getByLabel('API key', { exact: true }).fill(system.apiKey)
  await page.getByRole('button', { name: 'Show' }).click()
  await page.locator('#total-paid', { hasText: '3' }).waitFor({ timeout: 20_000 })
  t.equal(await page.locator('#latest tr .status.paid').count(), 3)
})

t.test('a partner over HTTP should get a link, and its payment should be visible through the API and on NATS', async (t) => {
  const system = await startSystem(t)
  const reference = `web-${randomBytes(4).toString('hex')}`
  const created = await api(system, system.url.issuer, '/v1/payment-links', {
    method: 'POST', body: JSON.stringify({ reference, amount: { value: 2000, currencyCode: 'EUR' }, description: 'Espresso machine service' }), headers: { 'idempotency-key': reference }
  })
  t.equal(created.status, 201)
  const link = await created.json() as { id: string, url: string, status: string }
  t.equal(link.status, 'issued')
  const fresh = await api(system, system.url.issuer, `/v1/payment-links/${link.id}`)
  t.equal(fresh.status, 200, 'readable right after it was created')

  await system.page.goto(link.url)
  t.ok(await system.page.getByText('€20.00').isVisible())
  await pay(system.page, SUCCESS)
  await system.page.getByText('Your payment went through').waitFor({ timeout: 30_000 })

  const paid = await until(async () => {
    const body = await (await api(system, system.url.issuer, `/v1/payment-links/${link.id}`)).json() as { status: string }
    return body.status === 'paid' ? body : undefined
  }, { what: 'the partner API shows it paid', timeoutMs: 60_000, intervalMs: 100 })
  t.match(paid, { status: 'paid' })
  await until(() => system.received.find((m) => m.body.type === 'payment.status-changed' && m.body.linkId === link.id && m.body.status === 'paid'), { what: 'paid on NATS', timeoutMs: 30_000, intervalMs: 100 })
  const conversion = await (await api(system, system.url.projector, `/v1/figures/conversion?from=${new Date().toISOString().slice(0, 10)}&to=${new Date().toISOString().slice(0, 10)}`)).json() as { issued: number, paid: number }
  t.match(conversion, { issued: 1, paid: 1 })
})
