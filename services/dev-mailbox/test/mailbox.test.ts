/// <reference lib="dom" />
import t from 'tap'
import { assertAccessible, launchChromium } from '@paylinks/test-kit/browser'
import { smtpClient, startMailbox } from './helper.js'

t.test('the mailbox should receive over SMTP and list each message on its JSON API with its parts and links', async (t) => {
  const { url, smtpUrl } = await startMailbox(t)
  const client = smtpClient(t, smtpUrl)
  await client.sendMail({
    from: 'Payments <pay@shop.example>',
    to: 'Cat <cat@example.com>',
    subject: 'Payment request from Corner Bakery: £12.34',
    text: 'Pay securely here: https://pay.example/checkout/pi_1\nThanks.',
    html: '<p>Hello</p><p><a href="https://pay.example/checkout/pi_1?a=1&amp;b=2">Pay £12.34</a></p>'
  })
  const list = await (await fetch(`${url}/api/messages`)).json() as { data: any[] }
  t.equal(list.data.length, 1)
  t.match(list.data[0], {
    id: /^msg_/,
    from: 'pay@shop.example',
    to: ['cat@example.com'],
    envelope: { from: 'pay@shop.example', to: ['cat@example.com'] },
    subject: 'Payment request from Corner Bakery: £12.34',
    text: /Pay securely here: https:\/\/pay\.example\/checkout\/pi_1/,
    html: /<a href=/
  })
  t.same(list.data[0].links, ['https://pay.example/checkout/pi_1', 'https://pay.example/checkout/pi_1?a=1&b=2'])
  const one = await fetch(`${url}/api/messages/${list.data[0].id as string}`)
  t.equal(one.status, 200)
  t.same((await (await fetch(`${url}/api/messages?to=CAT@example.com`)).json() as { data: unknown[] }).data.length, 1, 'filtered by recipient, case-insensitively')
  t.same((await (await fetch(`${url}/api/messages?to=dog@example.com`)).json() as { data: unknown[] }).data, [])
  const missing = await fetch(`${url}/api/messages/msg_nope`)
  t.equal(missing.status, 404)
  t.match(missing.headers.get('content-type'), 'application/problem+json')
  t.match(await missing.json(), { status: 404, detail: /No message msg_nope/ })
  t.same(await (await fetch(`${url}/api/messages`, { method: 'DELETE' })).json(), { deleted: 1 })
  t.same((await (await fetch(`${url}/api/messages`)).json() as { data: unknown[] }).data, [])
})

t.test('the mailbox should keep only the last messages, and refuse one over the size limit', async (t) => {
  const { url, smtpUrl, app } = await startMailbox(t, { maxMessages: 3, maxMessageBytes: 4096 })
  const client = smtpClient(t, smtpUrl)
  for (let i = 1; i <= 5; i++) await client.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: `n${i}`, text: 'x' })
  const list = await (await fetch(`${url}/api/messages`)).json() as { data: Array<{ subject: string }> }
  t.same(list.data.map((m) => m.subject), ['n5', 'n4', 'n3'], 'newest first, the oldest gone')
  await t.rejects(client.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'big', text: 'y'.repeat(20_000) }), /552 Message too large/)
  t.equal(app.mailbox.list().length, 3, 'the big one is not kept')
  t.match(await (await fetch(`${url}/api/status`)).json(), { smtp: { host: '127.0.0.1', port: app.mailbox.port }, messages: 3, maxMessages: 3 })
})

t.test('the mailbox page should list what arrived and show a message with clickable links and its HTML sandboxed, passing WCAG 2 A/AA', async (t) => {
  const { url, smtpUrl } = await startMailbox(t)
  const browser = await launchChromium(t)
  // bypassCSP: the pages allow no script, and axe is one.
  const context = await browser.newContext({ bypassCSP: true })
  const page = await context.newPage()
  await page.goto(url)
  await page.getByText('Nothing yet').waitFor()
  await assertAccessible(t, page, 'the empty mailbox page')

  const target = `${url}/healthz`
  await smtpClient(t, smtpUrl).sendMail({
    from: 'Payments <pay@shop.example>',
    to: 'cat@example.com',
    subject: 'Your <b>link</b>',
    text: `Pay here: ${target}`,
    html: `<p id="body">Hello</p><p><a href="${target}">Pay now</a></p><script>document.getElementById('body').dataset.ran = 'yes'</script>`
  })
  await page.getByRole('link', { name: 'Refresh' }).click()
  const row = page.getByRole('row').filter({ hasText: 'cat@example.com' })
  t.match(await row.textContent(), /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s*pay@shop\.example\s*cat@example\.com\s*Your <b>link<\/b>/, 'received, from, to and subject (escaped)')
  await assertAccessible(t, page, 'the mailbox page')

  await row.getByRole('link', { name: 'Your <b>link</b>' }).click()
  await page.getByRole('heading', { name: 'Your <b>link</b>' }).waitFor()
  t.equal(await page.getByRole('link', { name: target }).getAttribute('href'), target, 'the text part\'s URL is a link')
  const frame = page.locator('iframe')
  t.equal(await frame.getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox', 'the HTML part is in a sandboxed frame')
  const html = page.frameLocator('iframe')
  await html.getByText('Hello').waitFor()
  t.equal(await html.locator('#body').evaluate((el) => (el as HTMLElement).dataset.ran ?? null), null, "the message's script did not run")
  const csp = (await fetch(`${page.url()}/html`)).headers.get('content-security-policy')
  t.match(csp, /^sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'/)
  // Its link opens in a new tab.
  const [popup] = await Promise.all([context.waitForEvent('page'), html.getByRole('link', { name: 'Pay now' }).click()])
  await popup.waitForLoadState()
  t.equal(popup.url(), target)
  await assertAccessible(t, page, 'a message page')
})
