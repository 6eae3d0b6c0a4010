// A reusable link as payers' browsers meet it, on the whole system: five people open one URL at
// once and press Pay on a link limited to three payments. Real chromium (each person a context of
// their own), the sandbox's checkout; each payment reaches link-issuer's count the way every
// payment does: the sandbox's signed webhook, webhook-ingest's confirmation with Dojo, the
// recorder, and link-issuer's subscriber to the store.
import t from 'tap'
import { createDatabase } from '@paylinks/event-store'
import { createApiKey, type MerchantTables } from '@paylinks/merchants'
import { onTeardown, until } from '@paylinks/test-kit'
import { assertAccessible, payAtCheckout } from '@paylinks/test-kit/browser'
import { startConsoleSystem } from './console-system.js'

t.test('a reusable link with a limit of 3 and 5 concurrent payers should end with exactly 3 payments, the other 2 told plainly', async (t) => {
  const system = await startConsoleSystem(t)
  const db = createDatabase<MerchantTables>({ connectionString: system.databaseUrl, max: 1 })
  onTeardown(t, () => db.destroy())
  const { key } = await createApiKey(db, { merchantId: system.merchantId, label: 'tickets desk' })
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${system.issuerUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: res.status, body: await res.json() }
  }

  const created = await api('POST', '/v1/reusable-links', { reference: 'tickets', amount: { value: 1250, currencyCode: 'GBP' }, description: 'a concert ticket', maxPayments: 3 })
  t.equal(created.status, 201, JSON.stringify(created.body))
  const link = created.body

  // bypassCSP: the page's CSP allows no script, and axe is one (this context only looks).
  const looking = await (await system.browser.newContext({ bypassCSP: true })).newPage()
  await looking.goto(link.url)
  t.ok(await looking.getByRole('heading', { name: 'Pay Corner Café' }).isVisible())
  await assertAccessible(t, looking, 'the reusable link\'s page with its Pay button')

  // Five people, each in a browser of their own, have the page open; they all press Pay at once.
  const pages = await Promise.all(Array.from({ length: 5 }, async () => await (await system.browser.newContext()).newPage()))
  await Promise.all(pages.map(async (page) => await page.goto(link.url)))
  await Promise.all(pages.map(async (page) => {
    await page.getByRole('button', { name: 'Pay £12.50' }).click()
    await page.waitForLoadState()
  }))
  const atCheckout = pages.filter((page) => /\/checkout\//.test(page.url()))
  const turnedAway = pages.filter((page) => !/\/checkout\//.test(page.url()))
  t.equal(atCheckout.length, 3, 'three reach a checkout')
  t.equal(turnedAway.length, 2)
  for (const page of turnedAway) {
    t.ok(await page.getByRole('heading', { name: 'This payment link is no longer available' }).isVisible(), 'told plainly')
    t.ok(await page.getByText('Nothing was charged').isVisible())
  }
  t.equal(new Set(atCheckout.map((page) => page.url())).size, 3, 'each at a checkout of their own')

  await Promise.all(atCheckout.map(async (page) => { await payAtCheckout(page) }))
  const children = (await api('GET', `/v1/reusable-links/${String(link.id)}`)).body.children as Array<{ linkId: string }>
  t.equal(children.length, 3)
  for (const child of children) {
    await until(async () => (await api('GET', `/v1/payment-links/${child.linkId}`)).body.status === 'paid', { what: `${child.linkId} paid, as webhook-ingest confirmed it`, timeoutMs: 60_000, intervalMs: 200 })
  }
  await until(async () => (await api('GET', `/v1/reusable-links/${String(link.id)}`)).body.payers.completed === 3, { what: 'three payments completed', timeoutMs: 30_000, intervalMs: 200 })
  t.match((await api('GET', `/v1/reusable-links/${String(link.id)}`)).body, { payers: { admitted: 3, held: 0, completed: 3, released: 0 }, remaining: 0 })

  const full = await (await system.browser.newContext({ bypassCSP: true })).newPage()
  await full.goto(link.url)
  t.ok(await full.getByRole('heading', { name: 'This payment link is no longer available' }).isVisible(), 'the page itself says so once full')
  await assertAccessible(t, full, 'the reusable link\'s page once no longer available')
})
