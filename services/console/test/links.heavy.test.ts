// The console as staff meet it, over HTTP against the real services it is a client of:
// link-issuer, the projector and webhook-dispatch as processes (as pnpm start runs them), the
// recorder, webhook-ingest and the Dojo sandbox, with mail to a test SMTP server. Heavy: six processes.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { eventsStreamEnv, freePort, natsTestNames, roleUrl, spawnService, startRecorder, startSandbox, startSmtp, until, type ServiceProcess } from '@paylinks/test-kit'
import { browser, buildConsole, SECRETS_KEY } from './helpers.js'

const entry = (service: string): string => fileURLToPath(new URL(`../../${service}/src/server.ts`, import.meta.url))
const { url: databaseUrl } = await createMigratedTestDatabase(t)
const events = natsTestNames(t, 'cev')
const orders = natsTestNames(t, 'cord')
const integration = natsTestNames(t, 'cint')
const mailbox = await startSmtp(t)
const sandbox = await startSandbox(t)
const shared = { ...eventsStreamEnv(events), SECRETS_ENCRYPTION_KEYS: SECRETS_KEY, MIGRATE_ON_START: 'false', LOG_LEVEL: 'warn', HOST: '127.0.0.1', API_KEY_CACHE_MS: '0', API_KEY_NEGATIVE_CACHE_MS: '0' }
await startRecorder(t, { ...shared, DATABASE_URL: databaseUrl })
const [issuerPort, projectorPort, dispatchPort] = await Promise.all([freePort(), freePort(), freePort()])
const http = (port: number): string => `http://127.0.0.1:${port}`
const processes: Array<[string, number, ServiceProcess]> = [
  ['link-issuer', issuerPort, spawnService(t, entry('link-issuer'), {
    ...shared,
    DATABASE_URL: roleUrl(databaseUrl, DATABASE_ROLES.linkIssuer),
    PORT: String(issuerPort),
    PUBLIC_URL: http(issuerPort),
    SMTP_URL: mailbox.url,
    ORDERS_STREAM: orders.stream,
    ORDERS_SUBJECT_PREFIX: orders.subjectPrefix,
    ORDERS_DURABLE: orders.durable,
    RECOVERY_INTERVAL_MS: '0'
  })],
  ['projector', projectorPort, spawnService(t, entry('projector'), {
    ...shared, DATABASE_URL: roleUrl(databaseUrl, DATABASE_ROLES.projector), PORT: String(projectorPort), INTEGRATION_STREAM: integration.stream, INTEGRATION_SUBJECT_PREFIX: `cons${integration.durable.slice(-10)}`
  })],
  ['webhook-dispatch', dispatchPort, spawnService(t, entry('webhook-dispatch'), {
    ...shared, DATABASE_URL: roleUrl(databaseUrl, DATABASE_ROLES.webhookDispatch), PORT: String(dispatchPort), WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true'
  })]
]
await Promise.all(processes.map(async ([name, port, child]) => {
  await until(async () => {
    if (child.child.exitCode !== null) throw new Error(`${name} exited: ${child.output().slice(-2000)}`)
    return await fetch(`${http(port)}/readyz`).then((r) => r.ok, () => false)
  }, { what: `${name} ready`, timeoutMs: 60_000, intervalMs: 100 })
}))

const world = await buildConsole(t, { LINK_ISSUER_URL: http(issuerPort), PROJECTOR_URL: http(projectorPort), WEBHOOK_DISPATCH_URL: http(dispatchPort), SMTP_URL: mailbox.url }, databaseUrl)
// The merchant's Dojo is the sandbox, with an account of its own.
const dojoKey = `sk_sandbox_${randomBytes(12).toString('hex')}`
await sandbox.account(dojoKey, 'Corner Café')
await world.db.updateTable('merchants').set({ dojo_base_url: sandbox.url, dojo_secret_key_enc: (await import('@paylinks/merchants')).createSecretBox([SECRETS_KEY]).encrypt(dojoKey), dojo_secret_key_last4: dojoKey.slice(-4) }).where('id', '=', world.merchantId).execute()

// webhook-ingest subscribes each merchant at start: it starts once the merchant is there.
const ingestPort = await freePort()
const ingest = spawnService(t, entry('webhook-ingest'), { ...shared, DATABASE_URL: roleUrl(databaseUrl, DATABASE_ROLES.webhookIngest), PORT: String(ingestPort), PUBLIC_URL: http(ingestPort) })
await until(async () => {
  if (ingest.child.exitCode !== null) throw new Error(`webhook-ingest exited: ${ingest.output().slice(-2000)}`)
  return await fetch(`${http(ingestPort)}/readyz`).then((r) => r.ok, () => false)
}, { what: 'webhook-ingest ready', timeoutMs: 60_000, intervalMs: 100 })

const staffUser = await world.user('staff')
const staff = browser(world.app)
await staff.signIn(staffUser.email, staffUser.password)
const viewerUser = await world.user('viewer')
const viewer = browser(world.app)
await viewer.signIn(viewerUser.email, viewerUser.password)

async function linkIds (): Promise<string[]> {
  const rows = await world.db.selectFrom('li_links' as any).select('link_id' as any).execute()
  return rows.map((r: any) => r.link_id as string)
}

t.test('staff should create a link in one form, e-mail it to the customer (delivered), and find it by reference, customer, status and date', async (t) => {
  const bad = await staff.request('POST', '/console/api/links', { amount: { value: 0, currencyCode: 'gbp' }, customerEmail: 'nope', sendEmail: true })
  t.equal(bad.status, 400)
  t.same(bad.body.errors.map((e: any) => e.field), ['amount.value', 'amount.currencyCode', 'customerEmail'])
  t.equal(bad.body.errors[0].message, 'Enter an amount of at least 0.01.')

  const customer = `ada-${randomBytes(3).toString('hex')}@customer.example`
  const created = await staff.request('POST', '/console/api/links', { amount: { value: 1250, currencyCode: 'GBP' }, description: 'Table for two', customerEmail: customer })
  t.equal(created.status, 201)
  t.match(created.body, { status: 'issued', reference: /^con_/, amount: { value: 1250, currencyCode: 'GBP' }, description: 'Table for two', customer: { email: customer } })
  const link = created.body
  t.equal(mailbox.messages.filter((m) => m.to.includes(customer)).length, 0, 'not e-mailed unless asked')

  const sent = await staff.request('POST', `/console/api/links/${link.id as string}/email`)
  t.equal(sent.status, 202)
  const mail = await until(() => mailbox.messages.find((m) => m.to.includes(customer)), { what: 'the link e-mail' })
  t.match(mail.raw.replace(/=\r?\n/g, ''), link.shortUrl)
  t.equal((await staff.request('POST', `/console/api/links/${link.id as string}/email`)).status, 202, 'sent again')
  await until(() => mailbox.messages.filter((m) => m.to.includes(customer)).length === 2, { what: 'the resend' })
  const timeline = await until(async () => {
    const r = await viewer.request('GET', `/console/api/links/${link.id as string}/timeline`)
    return r.body.data.filter((e: any) => e.type === 'payment-link.sent').length === 2 ? r.body : undefined
  }, { what: 'both sends on the timeline' })
  t.same(timeline.data.slice(0, 2).map((e: any) => e.type), ['payment-link.requested', 'payment-link.issued'])

  const other = await staff.request('POST', '/console/api/links', { amount: { value: 990, currencyCode: 'GBP' }, reference: `zz-${randomBytes(3).toString('hex')}` })
  t.equal(other.status, 201)
  const byReference = await viewer.request('GET', `/console/api/links?q=${encodeURIComponent(link.reference.slice(0, 8) as string)}`)
  t.ok(byReference.body.data.some((l: any) => l.id === link.id))
  t.notOk(byReference.body.data.some((l: any) => l.id === other.body.id), 'a prefix of another reference')
  const byCustomer = await viewer.request('GET', `/console/api/links?q=${encodeURIComponent(customer.toUpperCase())}`)
  t.same(byCustomer.body.data.map((l: any) => l.id), [link.id])
  t.match(byCustomer.body.data[0], { customerEmail: customer, shortUrl: link.shortUrl, opened: { count: 0 } })
  const today = new Date().toISOString().slice(0, 10)
  const byStatus = await viewer.request('GET', `/console/api/links?status=issued&from=${today}&to=${today}`)
  t.ok(byStatus.body.data.some((l: any) => l.id === other.body.id))
  t.same((await viewer.request('GET', '/console/api/links?from=2020-01-01&to=2020-01-02')).body.data, [], 'nothing that day')
  t.same((await viewer.request('GET', '/console/api/links?status=canceled')).body.data.filter((l: any) => l.id === link.id), [])
  t.match((await viewer.request('GET', '/console/api/links?from=yesterday')).body, { status: 400, errors: [{ field: 'from' }] })

  const csv = await viewer.request('GET', `/console/api/links.csv?q=${encodeURIComponent(link.reference as string)}`)
  t.equal(csv.status, 200)
  t.match(String(csv.headers['content-type']), /^text\/csv/)
  const lines = csv.text.trim().split('\r\n')
  t.equal(lines[0], 'id,reference,status,amount_minor,currency,amount,created_at,expires_at,url')
  t.match(lines[1], `${link.id as string},${link.reference as string},issued,1250,GBP,12.50,`)
  t.equal(lines.length, 2)

  const qr = await viewer.request('GET', `/console/api/links/${link.id as string}/qr`)
  t.equal(qr.status, 200)
  t.match(String(qr.headers['content-type']), /image\/svg\+xml/)
  t.match(qr.text, /<svg/)
})

t.test('staff should cancel an unpaid link and refund a paid one; a canceled link is not e-mailed', async (t) => {
  const customer = `bo-${randomBytes(3).toString('hex')}@customer.example`
  const a = (await staff.request('POST', '/console/api/links', { amount: { value: 500, currencyCode: 'GBP' }, customerEmail: customer })).body
  const canceled = await staff.request('POST', `/console/api/links/${a.id as string}/cancel`)
  t.equal(canceled.status, 200)
  t.equal(canceled.body.status, 'canceled')
  const again = await staff.request('POST', `/console/api/links/${a.id as string}/email`)
  t.equal(again.status, 409)
  t.match(again.body, { code: 'LINK_NOT_PAYABLE' })

  const b = (await staff.request('POST', '/console/api/links', { amount: { value: 2000, currencyCode: 'GBP' } })).body
  await sandbox.pay(b.paymentIntentId)
  await until(async () => (await viewer.request('GET', `/console/api/links/${b.id as string}`)).body.status === 'paid', { what: 'the link paid', timeoutMs: 30_000 })
  const over = await staff.request('POST', `/console/api/links/${b.id as string}/refunds`, { amount: { value: 5000, currencyCode: 'GBP' } })
  t.equal(over.status, 422, 'more than was paid')
  const refund = await staff.request('POST', `/console/api/links/${b.id as string}/refunds`, { amount: { value: 750, currencyCode: 'GBP' }, reason: 'one dish missing' })
  t.equal(refund.status, 201)
  const after = await until(async () => {
    const r = (await viewer.request('GET', `/console/api/links/${b.id as string}`)).body
    return r.refundedAmount === 750 ? r : undefined
  }, { what: 'the refund recorded' })
  t.equal(after.status, 'partially_refunded')
})

t.test('a viewer should get 403 on every write and nothing should be created', async (t) => {
  const before = await linkIds()
  const create = await viewer.request('POST', '/console/api/links', { amount: { value: 100, currencyCode: 'GBP' } })
  t.equal(create.status, 403)
  t.match(create.body, { code: 'CONSOLE_FORBIDDEN' })
  const some = before[0]!
  t.equal((await viewer.request('POST', `/console/api/links/${some}/cancel`)).status, 403)
  t.equal((await viewer.request('POST', `/console/api/links/${some}/email`)).status, 403)
  t.equal((await viewer.request('POST', '/console/api/api-keys', { label: 'x' })).status, 403)
  t.equal((await viewer.request('POST', '/console/api/webhook-endpoints', { url: 'http://127.0.0.1:9/x' })).status, 403)
  t.same((await linkIds()).sort(), before.sort())
  const signedOut = browser(world.app)
  await signedOut.session()
  t.match((await signedOut.request('GET', '/console/api/links')).body, { status: 401, code: 'CONSOLE_SIGNED_OUT' })
  t.equal((await signedOut.request('POST', '/console/api/links', { amount: { value: 100, currencyCode: 'GBP' } })).status, 401)
  t.same((await linkIds()).sort(), before.sort())
})

t.test('another merchant\'s link should be 404 to the console and stay as it was', async (t) => {
  const mine = (await staff.request('POST', '/console/api/links', { amount: { value: 300, currencyCode: 'GBP' } })).body
  const otherMerchant = await world.merchant('Rival Bakery')
  const rivalUser = await world.user('owner', { merchantId: otherMerchant })
  const rival = browser(world.app)
  await rival.signIn(rivalUser.email, rivalUser.password)
  t.equal((await rival.request('GET', `/console/api/links/${mine.id as string}`)).status, 404)
  t.equal((await rival.request('GET', `/console/api/links/${mine.id as string}/timeline`)).status, 404)
  t.equal((await rival.request('POST', `/console/api/links/${mine.id as string}/cancel`)).status, 404)
  t.equal((await rival.request('POST', `/console/api/links/${mine.id as string}/email`)).status, 404)
  t.equal((await rival.request('POST', `/console/api/links/${mine.id as string}/refunds`, {})).status, 404)
  t.notOk((await rival.request('GET', '/console/api/links')).body.data.some((l: any) => l.id === mine.id))
  t.equal((await staff.request('GET', `/console/api/links/${mine.id as string}`)).body.status, 'issued', 'unchanged')
})

t.test('an owner should create, label and revoke API keys, and link-issuer should refuse a revoked key', async (t) => {
  const ownerUser = await world.user('owner')
  const owner = browser(world.app)
  await owner.signIn(ownerUser.email, ownerUser.password)
  t.match((await owner.request('POST', '/console/api/api-keys', { label: ' ' })).body, { status: 400, errors: [{ field: 'label' }] })
  const made = await owner.request('POST', '/console/api/api-keys', { label: 'till system' })
  t.equal(made.status, 201)
  t.match(made.body, { id: /./, label: 'till system', key: /^plk_/ })
  const listed = (await owner.request('GET', '/console/api/api-keys')).body.data
  t.ok(listed.some((k: any) => k.id === made.body.id && k.revokedAt === null))
  t.notOk(listed.some((k: any) => k.label === 'console'), 'the console\'s own key is not shown')
  t.notOk(JSON.stringify(listed).includes(made.body.key), 'never the secret again')
  const asPartner = async (): Promise<number> => (await fetch(`${http(issuerPort)}/v1/payment-links`, { headers: { authorization: `Bearer ${made.body.key as string}` } })).status
  t.equal(await asPartner(), 200)
  t.match((await owner.request('PATCH', `/console/api/api-keys/${made.body.id as string}`, { label: 'till, front desk' })).body, { label: 'till, front desk' })
  t.equal((await staff.request('POST', `/console/api/api-keys/${made.body.id as string}/revoke`)).status, 403, 'staff do not manage keys')
  t.equal((await owner.request('POST', `/console/api/api-keys/${made.body.id as string}/revoke`)).status, 204)
  t.equal(await asPartner(), 401, 'link-issuer refuses the revoked key')
  t.match((await owner.request('GET', '/console/api/api-keys')).body.data.find((k: any) => k.id === made.body.id), { revokedAt: /./ })
})

t.test('an owner should register a webhook endpoint through webhook-dispatch, and see the dashboard', async (t) => {
  const ownerUser = await world.user('owner')
  const owner = browser(world.app)
  await owner.signIn(ownerUser.email, ownerUser.password)
  const created = await owner.request('POST', '/console/api/webhook-endpoints', { url: 'http://127.0.0.1:9/hooks', description: 'shop backend' })
  t.equal(created.status, 201)
  t.match(created.body, { id: /./, url: 'http://127.0.0.1:9/hooks', secret: /^whsec_/ })
  const listed = (await owner.request('GET', '/console/api/webhook-endpoints')).body
  t.ok(JSON.stringify(listed).includes(created.body.id))
  t.equal((await owner.request('POST', '/console/api/webhook-endpoints', { url: 'ftp://nowhere' })).status, 400)
  const dashboard = await viewer.request('GET', '/console/api/dashboard')
  t.equal(dashboard.status, 200)
  t.type(dashboard.body, 'object')
})
