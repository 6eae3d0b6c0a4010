// The console's links as staff meet them in chromium: create and e-mail a link, the customer
// opens and pays it in the sandbox checkout, the console follows; search, CSV, the dashboard,
// and the owner's API keys and webhooks pages. Heavy: eight processes.
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { Page } from 'playwright-core'
import { until } from '@paylinks/test-kit'
import { assertAccessible, payAtCheckout, SUCCESS_CARD } from '@paylinks/test-kit/browser'
import { acceptInvite, decodeQuotedPrintable, fetchFromPage, firstOwnerUrl, invite, INVITE_URL, mailedUrl, newPage, person, screenshot, startConsoleSystem } from './console-system.js'

const system = await startConsoleSystem(t)
const owner = person('owner')
const staff = person('staff')
const viewer = person('viewer')
const customer = `${person('customer').email}`
const ownerPage = await newPage(system)
await acceptInvite(t, ownerPage, await firstOwnerUrl(system, owner.email, 'Olive Owner'), 'Olive Owner', owner.password)
await ownerPage.getByRole('link', { name: 'Staff' }).click()
await invite(ownerPage, staff.email, 'staff')
await invite(ownerPage, viewer.email, 'viewer')
const staffPage: Page = await newPage(system)
await acceptInvite(t, staffPage, await mailedUrl(system.mailbox, staff.email, INVITE_URL, 'the staff invite e-mail'), 'Sam Staff', staff.password)
let linkReference = ''
let linkPath = ''

t.test('staff should create and e-mail a link that the customer opens and pays, the console showing opened then paid', async (t) => {
  const page = staffPage
  await page.getByRole('link', { name: 'New link' }).click()
  await page.getByRole('heading', { name: 'New link' }).waitFor()
  await assertAccessible(t, page, 'the new-link form')
  // The client checks the obvious before asking the server.
  await page.getByLabel('Amount').fill('12.345')
  await page.getByLabel('Customer e-mail (optional)').fill('not-an-address')
  await page.getByRole('button', { name: 'Create link' }).click()
  await page.getByText('Enter an amount of at least 0.01, like 12.50.').waitFor()
  t.ok(await page.getByText('Enter the customer’s e-mail address, like name@example.com.').isVisible())
  await assertAccessible(t, page, 'the new-link form showing its errors')
  await screenshot(page, 'new-link-errors')

  await page.getByLabel('Amount').fill('12.50')
  await page.getByLabel('Description (optional)').fill('Birthday cake, two tiers')
  await page.getByLabel('Customer e-mail (optional)').fill(customer)
  await page.getByLabel('E-mail the link to the customer').check()
  await page.getByRole('button', { name: 'Create link' }).click()
  await page.getByRole('heading', { name: /^Link con_/ }).waitFor()
  linkPath = new URL(page.url()).pathname
  linkReference = (await page.getByRole('heading', { name: /^Link / }).textContent())!.replace(/^Link /, '')
  t.match(linkPath, /^\/console\/links\/lnk_/)
  t.ok(await page.getByText('£12.50').first().isVisible(), 'the amount in pounds')
  t.equal(await page.locator('#link-opened').textContent(), 'Not yet')
  const qr = await page.getByRole('img', { name: /^QR code of the link / }).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)
  t.ok(qr, 'the QR code from the server is shown')
  await assertAccessible(t, page, 'the link page')
  await screenshot(page, 'link-issued')

  const shortUrl = await page.getByLabel('Link for the customer').inputValue()
  const mailed = await until(() => system.mailbox.messages.find((m) => m.to.includes(customer)), { what: 'the link e-mail to the customer', timeoutMs: 20_000, intervalMs: 100 })
  t.ok(decodeQuotedPrintable(mailed.raw).includes(shortUrl), 'the customer\'s e-mail carries the short URL')

  const customerPage = await newPage(system)
  await customerPage.goto(shortUrl)
  await customerPage.getByLabel('Card number').waitFor()
  await page.locator('#link-opened', { hasText: /^1×/ }).waitFor({ timeout: 20_000 })
  t.equal(await page.locator('#link-status').textContent(), 'issued', 'opened, not yet paid')
  await payAtCheckout(customerPage, SUCCESS_CARD)
  await customerPage.getByText('Your payment went through').waitFor({ timeout: 30_000 })
  await page.locator('#link-status', { hasText: 'paid' }).waitFor({ timeout: 60_000 })
  await page.getByRole('heading', { name: 'Actions' }).waitFor()
  t.ok(await page.getByRole('button', { name: 'Refund' }).isVisible(), 'a paid link offers a refund')
  t.notOk(await page.getByRole('button', { name: 'Cancel link' }).isVisible(), 'and no cancel')
  await assertAccessible(t, page, 'the paid link page')
  await screenshot(page, 'link-paid')
})

t.test('the links page should find the link by reference and by customer e-mail, and download them as CSV', async (t) => {
  const page = staffPage
  await page.getByRole('link', { name: 'Links', exact: true }).click()
  await page.getByRole('heading', { name: 'Links' }).waitFor()
  await page.getByLabel('Reference or customer e-mail').fill(customer.toUpperCase())
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('link', { name: linkReference }).waitFor()
  t.match(page.url(), /\?q=/, 'the search is in the address, so it can be shared and reloaded')
  await page.reload()
  await page.getByRole('link', { name: linkReference }).waitFor()
  await assertAccessible(t, page, 'the links page')
  await screenshot(page, 'links')

  await page.getByLabel('Reference or customer e-mail').fill(`nobody-${Date.now()}@example.com`)
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByText('0 links shown.').waitFor()

  await page.getByLabel('Reference or customer e-mail').fill(linkReference)
  await page.getByLabel('Status').selectOption('paid')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('link', { name: linkReference }).waitFor()
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()])
  const csv = readFileSync((await download.path())!, 'utf8')
  const lines = csv.trim().split(/\r?\n/)
  t.equal(lines.length, 2, 'a header and the one link')
  t.match(lines[1], linkReference)
  t.match(lines[1], /1250/, 'the amount in minor units')
})

t.test('a viewer should see a link without its actions, and the server should refuse a forged create, cancel or refund', async (t) => {
  const page = await newPage(system)
  await acceptInvite(t, page, await mailedUrl(system.mailbox, viewer.email, INVITE_URL, 'the viewer invite e-mail'), 'Val Viewer', viewer.password)
  t.notOk(await page.getByRole('link', { name: 'New link' }).isVisible(), 'no New link in the menu')
  await page.getByRole('link', { name: 'Links', exact: true }).click()
  await page.getByRole('heading', { name: 'Links' }).waitFor()
  await page.getByRole('link', { name: linkReference }).click()
  await page.getByRole('heading', { name: `Link ${linkReference}` }).waitFor()
  t.notOk(await page.getByRole('heading', { name: 'Actions' }).isVisible(), 'no actions on the link page')
  t.notOk(await page.getByRole('button', { name: 'Refund' }).isVisible(), 'no refund button')
  const forged = await fetchFromPage(page, '/console/api/links', { method: 'POST', body: { amount: { value: 100, currencyCode: 'GBP' } }, csrf: 'session' })
  t.same(forged, { status: 403, code: 'CONSOLE_FORBIDDEN' }, 'the server refuses a viewer\'s create')
  const linkId = linkPath.split('/').pop()!
  for (const [what, path, body] of [['cancel', 'cancel', {}], ['refund', 'refunds', { amount: { value: 100, currencyCode: 'GBP' } }]] as const) {
    t.same(await fetchFromPage(page, `/console/api/links/${linkId}/${path}`, { method: 'POST', body, csrf: 'session' }), { status: 403, code: 'CONSOLE_FORBIDDEN' }, `the server refuses a viewer's ${what}`)
  }
  const noToken = await fetchFromPage(staffPage, '/console/api/links', { method: 'POST', body: { amount: { value: 100, currencyCode: 'GBP' } }, csrf: 'none' })
  t.same(noToken, { status: 403, code: 'CONSOLE_CSRF' }, 'staff without the token are refused too')
})

t.test('the owner\'s pages (dashboard, API keys, webhooks) should work and pass axe', async (t) => {
  const page = ownerPage
  await page.goto(`${system.origin}/console/`)
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
  await page.locator('.card', { hasText: 'Paid' }).locator('dd', { hasText: /^1$/ }).waitFor({ timeout: 30_000 })
  await page.getByRole('link', { name: linkReference }).waitFor()
  await assertAccessible(t, page, 'the dashboard with a paid link')
  await screenshot(page, 'dashboard')

  await page.getByRole('link', { name: 'API keys' }).click()
  await page.getByRole('heading', { name: 'API keys' }).waitFor()
  await page.getByLabel('Label').fill('till')
  await page.getByRole('button', { name: 'Create key' }).click()
  const key = await page.getByLabel('New key').inputValue()
  t.match(key, /\S{20,}/, 'the new key is shown once')
  await page.getByRole('button', { name: 'Revoke till' }).waitFor()
  // The console's own key (label `console`) is not listed, and the first pages' requests, racing
  // to make it, made one only (a second would be listed, revoked).
  t.equal(await page.getByRole('row').filter({ hasText: /^console/ }).count(), 0, 'the console\'s own key is not listed')
  await assertAccessible(t, page, 'the API keys page')
  await screenshot(page, 'api-keys')

  await page.getByRole('link', { name: 'Webhooks' }).click()
  await page.getByRole('heading', { name: 'Webhooks' }).waitFor()
  await page.getByText('No endpoints yet.').waitFor()
  await page.getByLabel('URL').fill('http://example.com/hooks')
  await page.getByRole('button', { name: 'Add endpoint' }).click()
  await page.getByText('Enter an https:// address.').waitFor()
  await assertAccessible(t, page, 'the webhooks page')
  await screenshot(page, 'webhooks')

  // A counter tablet held upright: the dashboard still reads.
  await page.setViewportSize({ width: 768, height: 1024 })
  await page.goto(`${system.origin}/console/`)
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth)
  t.notOk(overflow, 'no sideways scrolling at 768 px')
  await assertAccessible(t, page, 'the dashboard at tablet width')
})
