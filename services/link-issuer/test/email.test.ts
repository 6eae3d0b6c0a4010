import t from 'tap'
import { auth, buildIssuer, createTestMerchant, issuerEnv, startRecorder, startSandbox, startSmtp } from './helpers.js'

const sandbox = await startSandbox(t)
const mailbox = await startSmtp(t)
const env = await issuerEnv(t, { MAIL_FROM: 'Payments <pay@shop.example>' })
await startRecorder(t, env)
const app = await buildIssuer(t, { ...env, SMTP_URL: mailbox.url })

/** The raw message with quoted-printable soft breaks undone, so URLs read whole. */
const unfold = (raw: string): string => raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=')

t.test('a link asked to be e-mailed should reach a real SMTP server with text and HTML parts', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/payment-links',
    headers: auth(m.apiKey),
    payload: { reference: 'mail-1', amount: { value: 1234, currencyCode: 'GBP' }, description: 'A <script> tag', customer: { email: 'cat@example.com', name: 'Cat' }, sendEmail: true }
  })
  t.equal(res.statusCode, 201, res.body)
  const link = res.json()
  t.match(link.email, { requested: true, sentAt: /^\d{4}-/ })
  t.equal(mailbox.messages.length, 1)
  const message = mailbox.messages[0]!
  t.same(message.to, ['cat@example.com'])
  t.equal(message.from, 'pay@shop.example')
  const raw = unfold(message.raw)
  t.match(raw, /Content-Type: text\/plain/)
  t.match(raw, /Content-Type: text\/html/)
  t.ok(raw.split(link.shortUrl).length >= 3, 'the short link is in both parts')
  t.match(raw, /£12\.34|=C2=A312\.34/)
  t.match(raw, /A &lt;script&gt; tag/, 'HTML part is escaped')
  const events = (await app.inject({ method: 'GET', url: `/v1/payment-links/${link.id as string}/events`, headers: auth(m.apiKey) })).json()
  t.same(events.data.map((e: { type: string }) => e.type), ['payment-link.requested', 'payment-link.issued', 'payment-link.sent'])

  const replay = await app.inject({ method: 'POST', url: '/v1/payment-links', headers: { ...auth(m.apiKey), 'idempotency-key': 'mail-2' }, payload: { reference: 'mail-2', amount: { value: 1, currencyCode: 'EUR' }, customer: { email: 'dan@example.com' }, sendEmail: true } })
  t.equal(replay.statusCode, 201)
  await app.inject({ method: 'POST', url: '/v1/payment-links', headers: { ...auth(m.apiKey), 'idempotency-key': 'mail-2' }, payload: { reference: 'mail-2', amount: { value: 1, currencyCode: 'EUR' }, customer: { email: 'dan@example.com' }, sendEmail: true } })
  t.equal(mailbox.messages.filter((x) => x.to.includes('dan@example.com')).length, 1, 'a replay does not send again')
})
