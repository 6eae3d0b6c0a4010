import t from 'tap'
import { sql } from 'kysely'
import { paymentLinkStream } from '@paylinks/contracts'
import { createDatabase } from '@paylinks/event-store'
import { onTeardown } from '@paylinks/test-kit'
import { dojoReferenceFor, linkIdFor } from '../src/link.js'
import type { LinkIssuerTables } from '../src/tables.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, startFaultyProxy, startRecorder, startSandbox, startSmtp, until } from './helpers.js'

// Two replicas of link-issuer on one database and stream, both running every sweep, while
// partners retry each request on both. Dojo is down at first, then the SMTP server refuses.

const sandbox = await startSandbox(t)
let refusing = true
const mailbox = await startSmtp(t, { refuse: () => refusing })
const env = await issuerEnv(t, { SMTP_URL: mailbox.url, RECOVERY_INTERVAL_MS: '100', RECOVERY_AFTER_MS: '0', RECOVERY_TAKEOVER_INTERVAL_MS: '100' })
await startRecorder(t, env)
const replicas = [await buildIssuer(t, env), await buildIssuer(t, env)]
const store = await openStore(t, env)
const db = createDatabase<LinkIssuerTables>({ connectionString: env.DATABASE_URL!, max: 1 })
onTeardown(t, () => db.destroy())

t.test('two replicas sweeping together should make one Dojo intent and send one e-mail per link', async (t) => {
  const proxy = await startFaultyProxy(t, sandbox.url, [])
  proxy.setDefault('fail500')
  const m = await createTestMerchant(t, env, proxy.url, sandbox.url)
  const links = Array.from({ length: 6 }, (_, i) => ({
    reference: `twice-${i}`,
    email: `customer-${i}@example.com`,
    linkId: linkIdFor(m.id, `twice-${i}`)
  }))
  const post = async (replica: number, link: typeof links[number]): Promise<{ statusCode: number, body: string }> => await replicas[replica]!.inject({
    method: 'POST',
    url: '/v1/payment-links',
    headers: { ...auth(m.apiKey), 'idempotency-key': `key-${link.reference}` },
    payload: { reference: link.reference, amount: { value: 1250, currencyCode: 'GBP' }, customer: { email: link.email }, sendEmail: true }
  })
  /** Every link asked for on both replicas at once, as a partner retrying behind a load balancer. */
  const onBoth = async (): Promise<Array<{ statusCode: number, body: string }>> => await Promise.all(links.flatMap((l) => [post(0, l), post(1, l)]))

  for (const [i, link] of links.entries()) {
    const res = await post(i % 2, link)
    t.equal(res.statusCode, 503, `Dojo down: ${res.body}`)
  }

  // Dojo is back: the sweeps and the retries on both replicas race for each link.
  proxy.setDefault('pass')
  for (const res of await onBoth()) t.ok([201, 202].includes(res.statusCode), `retry while Dojo is back: ${res.statusCode} ${res.body}`)
  await until(async () => {
    for (const l of links) if (!(await store.readStream(paymentLinkStream(l.linkId))).some((e) => e.type === 'payment-link.issued')) return false
    return true
  }, 30_000, 'every link issued')
  t.equal(mailbox.messages.length, 0, 'the SMTP server refused everything so far')

  // The SMTP server takes mail again: the sweeps and the retries race for each e-mail.
  refusing = false
  for (const res of await onBoth()) t.ok([201, 202].includes(res.statusCode), `retry while SMTP is back: ${res.statusCode}`)
  await until(async () => {
    const rows = await db.selectFrom('li_links').select('email_sent_at').where('link_id', 'in', links.map((l) => l.linkId)).execute()
    return rows.length === links.length && rows.every((r) => r.email_sent_at !== null)
  }, 30_000, 'every e-mail recorded as sent in the read model (the sweeps select no link any more)')
  const { rows: claims } = await sql<{ status: string }>`SELECT status FROM li_email_claims WHERE link_id = ANY(${links.map((l) => l.linkId)}::text[])`.execute(db)
  t.same(claims.map((c) => c.status), links.map(() => 'accepted'), 'every claim settled')

  for (const l of links) {
    t.equal(mailbox.messages.filter((x) => x.to.includes(l.email)).length, 1, `${l.reference}: one e-mail`)
    const events = (await store.readStream(paymentLinkStream(l.linkId))).map((e) => e.type)
    t.same(events, ['payment-link.requested', 'payment-link.issued', 'payment-link.sent'], `${l.reference}: one outcome, one sent`)
    const intents = await m.dojo.findPaymentIntentsByReference(dojoReferenceFor(l.reference, l.linkId), { createdFrom: new Date(Date.now() - 600_000) })
    t.equal(intents.length, 1, `${l.reference}: one intent at Dojo`)
  }
  t.equal(mailbox.messages.length, links.length)
})
