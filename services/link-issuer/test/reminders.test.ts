// Reminder e-mails for unpaid links: the merchant's policy (partner API, pnpm admin), the sweep
// on two link-issuer instances sharing one database, a real SMTP receiver and the sandbox. The
// policy floor (REMINDER_MIN_INTERVAL_S) is a second here, so reminders fall due in seconds;
// negative checks wait for a later link's reminder, which proves sweeps have passed since.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { paymentLinkStream } from '@paylinks/contracts'
import { createDatabase } from '@paylinks/event-store'
import { connectMessaging, createEventPublisher } from '@paylinks/messaging'
import { onTeardown } from '@paylinks/test-kit'
import { foldLink, registry, type IssuerLinkState } from '../src/link.js'
import { reminderDue } from '../src/issuing/email.js'
import { claimReminder, findDueReminders } from '../src/repositories/reminders.js'
import { checkReminderPolicy } from '../src/routes/settings.js'
import type { LinkIssuerTables } from '../src/tables.js'
import { auth, buildIssuer, caughtUp, createTestMerchant, issuerEnv, openStore, runAdmin, startRecorder, startSandbox, startSmtp, until } from './helpers.js'

const sandbox = await startSandbox(t)
const mailbox = await startSmtp(t)
const env = await issuerEnv(t, { MAIL_FROM: 'Payments <pay@shop.example>', REMINDER_SWEEP_MS: '100', REMINDER_MIN_INTERVAL_S: '1' })
await startRecorder(t, env)
// Two replicas on one database: the sweep runs on the leader, the claims hold whoever sends.
const one = await buildIssuer(t, { ...env, SMTP_URL: mailbox.url })
const two = await buildIssuer(t, { ...env, SMTP_URL: mailbox.url })
const store = await openStore(t, env)
const db = createDatabase<LinkIssuerTables>({ connectionString: env.DATABASE_URL!, max: 2 })
t.teardown(async () => { await db.destroy() })
const messaging = await connectMessaging({ servers: env.NATS_URL!, name: 'reminders-test' })
onTeardown(t, () => messaging.close())
const publisher = createEventPublisher({ js: messaging.js, subjectPrefix: env.EVENTS_SUBJECT_PREFIX!, registry })

/** Paid at the sandbox, and recorded as webhook-ingest records it once Dojo confirms: the status change. */
async function pay (linkId: string, paymentIntentId: string): Promise<void> {
  const paid = await sandbox.pay(paymentIntentId)
  if (paid.status !== 200) throw new Error(JSON.stringify(paid.body))
  await caughtUp(messaging, store, env)
  const events = await store.readStream(paymentLinkStream(linkId))
  const [ack] = await publisher.publish([registry.create('payment-link.status-changed', {
    linkId, paymentIntentId, from: 'issued', to: 'paid', dojoStatus: 'Captured', amount: { value: 1250, currencyCode: 'GBP' }, capturedAmount: 1250, refundedAmount: 0, source: 'webhook', observedAt: new Date().toISOString()
  }, { streamId: paymentLinkStream(linkId), metadata: { correlationId: 'reminders-test', producer: 'webhook-ingest' } })], { expectedLastSubjectSequence: events.at(-1)!.position })
  await store.waitForPosition(ack!.seq, 10_000)
}

const unfold = (raw: string): string => raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=')
const reminders = (to: string): string[] => mailbox.messages.filter((m) => m.to.includes(to) && /^Subject: Reminder:/m.test(m.raw)).map((m) => unfold(m.raw))
const policy = { enabled: true, firstAfterSeconds: 1, everySeconds: 1, maxReminders: 2 }

async function setPolicy (apiKey: string, body: unknown): Promise<void> {
  const res = await one.inject({ method: 'PUT', url: '/v1/settings/reminders', headers: auth(apiKey), payload: body as object })
  if (res.statusCode !== 200) throw new Error(res.body)
}

async function createLink (apiKey: string, email: string, extra: Record<string, unknown> = {}): Promise<{ id: string, shortUrl: string, paymentIntentId: string }> {
  const res = await two.inject({
    method: 'POST',
    url: '/v1/payment-links',
    headers: auth(apiKey),
    payload: { reference: `r-${randomUUID()}`, amount: { value: 1250, currencyCode: 'GBP' }, customer: { email, name: 'Ann <b>' }, sendEmail: true, ...extra }
  })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json()
}

async function link (apiKey: string, id: string): Promise<{ status: string, email: { reminders: number, lastReminderAt: string | null } }> {
  return (await one.inject({ method: 'GET', url: `/v1/payment-links/${id}`, headers: auth(apiKey) })).json()
}

async function remindedNumbers (id: string): Promise<number[]> {
  return (await store.readStream(`payment-link.${id}`)).filter((e) => e.type === 'payment-link.reminded').map((e) => (e.data as { reminder: number }).reminder)
}

t.test('the reminder policy should be off by default, settable by the merchant, and refused with problem+json when invalid', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const get = await one.inject({ method: 'GET', url: '/v1/settings/reminders', headers: auth(m.apiKey) })
  t.equal(get.statusCode, 200)
  t.same(get.json(), { enabled: false, firstAfterSeconds: 86400, everySeconds: 86400, maxReminders: 1 })
  t.equal((await one.inject({ method: 'GET', url: '/v1/settings/reminders' })).statusCode, 401)

  for (const bad of [{ ...policy, maxReminders: 6 }, { ...policy, maxReminders: 0 }, { ...policy, everySeconds: 0 }, { enabled: true }, { ...policy, extra: 1 }]) {
    const res = await one.inject({ method: 'PUT', url: '/v1/settings/reminders', headers: auth(m.apiKey), payload: bad })
    t.equal(res.statusCode, 400, JSON.stringify(bad))
    t.match(res.headers['content-type'], /application\/problem\+json/)
  }
  t.match(checkReminderPolicy({ ...policy, firstAfterSeconds: 3600, everySeconds: 600 }, 3600), /everySeconds must be at least 3600/)
  t.equal(checkReminderPolicy({ ...policy, firstAfterSeconds: 3600, everySeconds: 7200 }, 3600), undefined)

  const put = await two.inject({ method: 'PUT', url: '/v1/settings/reminders', headers: auth(m.apiKey), payload: { enabled: true, firstAfterSeconds: 7200, everySeconds: 3600, maxReminders: 3 } })
  t.equal(put.statusCode, 200, put.body)
  t.same((await one.inject({ method: 'GET', url: '/v1/settings/reminders', headers: auth(m.apiKey) })).json(), { enabled: true, firstAfterSeconds: 7200, everySeconds: 3600, maxReminders: 3 })

  const admin = await runAdmin(env, 'merchant', 'reminders', '--merchant', m.id, '--first-after-hours', '24', '--every-hours', '48', '--max-reminders', '2', '--off', '--json')
  t.equal(admin.code, 0, admin.err)
  t.same(JSON.parse(admin.out), { enabled: false, firstAfterSeconds: 86400, everySeconds: 172800, maxReminders: 2 })
  t.same((await one.inject({ method: 'GET', url: '/v1/settings/reminders', headers: auth(m.apiKey) })).json().enabled, false)
  t.not((await runAdmin(env, 'merchant', 'reminders', '--merchant', m.id, '--max-reminders', '9')).code, 0)
})

t.test('a reminder should be sent once per interval up to the max, across two instances, and stopped by payment, cancel and a policy turned off', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  const off = await createTestMerchant(t, env, sandbox.url)
  // `off` never turns reminders on; `canceled` and `paid` are canceled and paid before the policy is on.
  const quiet = await createLink(off.apiKey, 'quiet@example.com')
  const canceled = await createLink(m.apiKey, 'gone@example.com')
  t.equal((await one.inject({ method: 'POST', url: `/v1/payment-links/${canceled.id}/cancel`, headers: auth(m.apiKey) })).statusCode, 200)
  const paid = await createLink(m.apiKey, 'paid@example.com')
  await pay(paid.id, paid.paymentIntentId)
  await setPolicy(m.apiKey, policy)
  const unpaid = await createLink(m.apiKey, 'ann@example.com', { description: 'Tea & <cake>' })

  await until(async () => (await link(m.apiKey, unpaid.id)).email.reminders === 2 || undefined, { timeoutMs: 20_000, what: 'two reminders' })
  // A link e-mailed after the second reminder gets its first: sweeps have passed since, with the
  // unpaid link's third (if there were one) due as well.
  const later = await createLink(m.apiKey, 'later@example.com')
  await until(async () => (await link(m.apiKey, later.id)).email.reminders === 1 || undefined, { timeoutMs: 20_000, what: 'the later link reminded' })

  t.same(await remindedNumbers(unpaid.id), [1, 2], 'each reminder recorded once')
  const sent = reminders('ann@example.com')
  t.equal(sent.length, 2, 'two reminder e-mails, not more, from two instances')
  const first = sent[0]!
  t.match(first, /^Subject: Reminder: payment request from Test & Sons <Ltd>/m)
  t.ok(first.split(unpaid.shortUrl).length >= 3, 'the short URL in text and HTML')
  t.match(first, /Tea &amp; &lt;cake&gt;/, 'HTML escaped')
  t.match(first, /Hello Ann &lt;b&gt;,/)
  const row = await db.selectFrom('li_links').select(['reminders_sent', 'last_emailed_at']).where('link_id', '=', unpaid.id).executeTakeFirstOrThrow()
  t.equal(row.reminders_sent, 2)
  t.equal(row.last_emailed_at?.toISOString(), (await link(m.apiKey, unpaid.id)).email.lastReminderAt)

  t.equal((await link(m.apiKey, paid.id)).status, 'paid')
  t.equal((await link(m.apiKey, paid.id)).email.reminders, 0, 'paid: none')
  t.same(reminders('paid@example.com'), [])
  t.equal((await link(m.apiKey, canceled.id)).email.reminders, 0, 'canceled: none')
  t.same(reminders('gone@example.com'), [])
  t.equal((await link(off.apiKey, quiet.id)).email.reminders, 0, 'policy off: none')
  t.same(reminders('quiet@example.com'), [])
})

t.test('a reminder accepted before a crash should be recorded without sending it again, and one left sending never sent', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  // Claims as a crashed sender leaves them: before the SMTP answer, and after it but before the event.
  const sending = await createLink(m.apiKey, 'sending@example.com')
  const accepted = await createLink(m.apiKey, 'accepted@example.com')
  await db.insertInto('li_reminder_claims').values([
    { link_id: sending.id, reminder: 1, status: 'sending', message_id: null, accepted_at: null },
    { link_id: accepted.id, reminder: 1, status: 'accepted', message_id: '<m-1@shop.example>', accepted_at: new Date() }
  ]).execute()
  await setPolicy(m.apiKey, { ...policy, maxReminders: 1 })
  await until(async () => (await link(m.apiKey, accepted.id)).email.reminders === 1 || undefined, { timeoutMs: 20_000, what: 'the accepted reminder recorded' })
  const [reminded] = (await store.readStream(`payment-link.${accepted.id}`)).filter((e) => e.type === 'payment-link.reminded')
  t.same(reminded?.data, { linkId: accepted.id, reminder: 1, messageId: '<m-1@shop.example>' }, 'from the claim')
  t.same(reminders('accepted@example.com'), [], 'not sent again')
  t.equal((await link(m.apiKey, sending.id)).email.reminders, 0, 'left sending: never sent (at most once)')
  t.same(reminders('sending@example.com'), [])
})

t.test('each reminder number should be claimed by one sender only', async (t) => {
  const linkId = `lnk_${randomUUID().replace(/-/g, '').slice(0, 22)}`
  const other = createDatabase<LinkIssuerTables>({ connectionString: env.DATABASE_URL!, max: 1 })
  t.teardown(async () => { await other.destroy() })
  const claims = await Promise.all([claimReminder(db, linkId, 1), claimReminder(other, linkId, 1), claimReminder(db, linkId, 1), claimReminder(other, linkId, 1)])
  t.equal(claims.filter((c) => c.claimed).length, 1)
  t.ok((await claimReminder(db, linkId, 2)).claimed, 'the next number is its own claim')
})

t.test('expiry, payment and the max should stop reminders (the due query and the rule on the link\'s events)', async (t) => {
  const m = await createTestMerchant(t, env, sandbox.url)
  // Sweeps with the policy off meanwhile; the query below is driven with a `now` of its own.
  const expiring = await createLink(m.apiKey, 'exp@example.com', { expiresAt: new Date(Date.now() + 120_000).toISOString() })
  const lasting = await createLink(m.apiKey, 'last@example.com')
  await until(async () => (await db.selectFrom('li_links').select('link_id').where('link_id', 'in', [expiring.id, lasting.id]).where('last_emailed_at', 'is not', null).execute()).length === 2 || undefined)
  await db.insertInto('li_reminder_policies').values({ merchant_id: m.id, enabled: true, first_after_s: 60, every_s: 60, max_reminders: 1 }).execute()
  t.teardown(async () => { await db.deleteFrom('li_reminder_policies').where('merchant_id', '=', m.id).execute() })
  const mine = async (now: Date): Promise<string[]> => (await findDueReminders(db, now, 1000)).map((d) => d.linkId).filter((id) => id === expiring.id || id === lasting.id).sort()
  t.same(await mine(new Date(Date.now() + 90_000)), [expiring.id, lasting.id].sort(), 'both due before the expiry')
  t.same(await mine(new Date(Date.now() + 180_000)), [lasting.id], 'the expired one is not')
  t.same(await mine(new Date()), [], 'neither before the first interval')

  const events = await store.readStream(`payment-link.${lasting.id}`)
  const issued = { ...foldLink(events)!, personal: { email: 'last@example.com' } } as IssuerLinkState
  const at = new Date(Date.now() + 90_000)
  const on = { enabled: true, firstAfterSeconds: 60, everySeconds: 60, maxReminders: 2 }
  t.equal(reminderDue(issued, on, at), 1, 'an issued, e-mailed link is due')
  // What webhook-ingest and a cancel record, as the store hands them back.
  const after = (type: string, version: number, data: Record<string, unknown>): IssuerLinkState => {
    const last = events.at(-1)!
    return foldLink([...events, { ...last, id: randomUUID(), type, schemaVersion: version, data: { linkId: lasting.id, ...data }, occurredAt: new Date().toISOString(), position: last.position + 1, streamVersion: last.streamVersion + 1 }])!
  }
  const paid = after('payment-link.status-changed', 2, {
    paymentIntentId: issued.paymentIntentId, from: 'issued', to: 'paid', dojoStatus: 'Captured', amount: issued.amount, capturedAmount: 1250, refundedAmount: 0, source: 'webhook', observedAt: new Date().toISOString()
  })
  t.equal(paid.status, 'paid')
  t.equal(reminderDue({ ...paid, personal: issued.personal }, on, at), undefined, 'paid: none')
  t.equal(reminderDue({ ...after('payment-link.canceled', 1, {}), personal: issued.personal }, on, at), undefined, 'canceled: none')
  t.equal(reminderDue(issued, on, new Date(new Date(issued.expiresAt).getTime() + 1)), undefined, 'expired: none')
  t.equal(reminderDue(issued, { ...on, enabled: false }, at), undefined, 'policy off: none')
  const once = { ...after('payment-link.reminded', 1, { reminder: 1 }), personal: issued.personal }
  t.equal(reminderDue(once, on, new Date(Date.now() + 30_000)), undefined, 'not again within the interval')
  t.equal(reminderDue(once, on, new Date(Date.now() + 61_000)), 2)
  t.equal(reminderDue(once, { ...on, maxReminders: 1 }, new Date(Date.now() + 61_000)), undefined, 'max reached: none')
})
