/// <reference lib="dom" />
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { record } from '@paylinks/event-store'
import { createApiKey } from '@paylinks/merchants'
import { onTeardown } from '@paylinks/test-kit'
import { assertAccessible } from '@paylinks/test-kit/browser'
import { buildHistory } from './fixtures/history.js'
import { projectorOverHistory } from './helpers.js'

// Without these flags Debian's chromium reaches for the network, which is closed here.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

t.test('the dashboard should show totals, a rendered chart, the funnel and the latest links, live', async (t) => {
  const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z')
  const { app, db, history } = await projectorOverHistory(t, { merchants: ['mer_alpha01'], start: new Date(today.getTime() - 5 * 86_400_000) })
  const key = (await createApiKey(db, { merchantId: 'mer_alpha01' })).key
  const address = await app.listen({ host: '127.0.0.1', port: 0 })

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS })
  onTeardown(t, () => browser.close())
  // bypassCSP: the page's CSP allows only its own scripts, and axe is injected inline.
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, bypassCSP: true })
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(e.message))
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })

  await page.goto(`${address}/dashboard`)
  await assertAccessible(t, page, 'the dashboard before a key is given')
  await page.getByLabel('API key', { exact: true }).fill('plk_wrongwrongwrong_' + 'x'.repeat(43))
  await page.getByRole('button', { name: 'Show' }).click()
  await page.getByText('The API key is unknown or revoked.').waitFor()
  await assertAccessible(t, page, 'the dashboard with its error')
  problems.length = 0 // the 401 above was the point

  await page.getByLabel('API key', { exact: true }).fill(key)
  await page.getByRole('button', { name: 'Show' }).click()
  await page.locator('#total-issued', { hasText: '36' }).waitFor({ timeout: 15_000 })
  t.equal(await page.locator('#total-paid').textContent(), '24')
  t.equal(await page.locator('#total-conversion').textContent(), '66.7 %')
  t.equal(await page.locator('#latest tr').count(), 10, 'the ten latest links')
  t.match(await page.locator('#funnel').textContent(), /requested 40.*issued 36.*sent 20.*paid 24/)
  t.match(await page.locator('#lag').textContent(), /Up to date/)
  await assertAccessible(t, page, 'the dashboard with figures')

  // The chart rendered: its canvas has painted pixels, including the paid series' green.
  const painted = await page.evaluate(() => {
    const canvas = document.getElementById('daily-chart') as HTMLCanvasElement
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
    let inked = 0
    let green = 0
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3]! > 0) inked++
      if (Math.abs(data[i]! - 0x1f) < 8 && Math.abs(data[i + 1]! - 0x9d) < 8 && Math.abs(data[i + 2]! - 0x55) < 8) green++
    }
    return { inked, green, width: canvas.width, height: canvas.height }
  })
  t.ok(painted.width > 300 && painted.height > 100, 'the canvas is laid out')
  t.ok(painted.green > 200, `paid bars are drawn (${painted.green} green pixels)`)
  const screenshot = join(tmpdir(), `dashboard-${process.pid}.png`)
  await page.screenshot({ path: screenshot, fullPage: true })
  t.comment(`screenshot: ${screenshot}`)

  // Live: a new link issued today shows up without a reload.
  const more = buildHistory({ merchants: ['mer_alpha01'], linksPerMerchant: 1, start: today }).map((p, i) => ({ ...p, position: history.length + 100 + i }))
  for (const p of more) (p.event.data as Record<string, unknown>).linkId = 'lnk_livelivelive0001'
  more.forEach((p) => { p.event = { ...p.event, streamId: 'payment-link.lnk_livelivelive0001' } })
  await record(db as never, more)
  await page.locator('#total-issued', { hasText: '37' }).waitFor({ timeout: 15_000 })
  t.pass('the new link appeared without a reload')
  t.same(problems, [], 'no errors in the page')
})
