import t from 'tap'
import { ensureStream } from '@paylinks/messaging'
import { createDatabase } from '@paylinks/event-store'
import type { MerchantTables } from '@paylinks/merchants'
import { onTeardown } from '@paylinks/test-kit'
import { createTestMerchant, issuerEnv, runAdmin } from './helpers.js'
import { startAuthenticatedNats } from './nats-auth-helpers.js'

const env = await issuerEnv(t)

const admin = async (authDir: string, ...args: string[]): Promise<{ code: number, out: string, err: string }> => await runAdmin({ DATABASE_URL: env.DATABASE_URL!, NATS_AUTH_DIR: authDir }, ...args)

t.test('pnpm admin nats-credential should issue an order credential limited to its merchant, and revoke it', async (t) => {
  const nats = await startAuthenticatedNats(t, env)
  await ensureStream(nats.jsm, { name: env.ORDERS_STREAM!, subjects: [`${env.ORDERS_SUBJECT_PREFIX!}.v1.>`], maxAgeMs: 60_000 })
  await ensureStream(nats.jsm, { name: env.EVENTS_STREAM!, subjects: [`${env.EVENTS_SUBJECT_PREFIX!}.>`], maxAgeMs: 60_000 })
  const alpha = await createTestMerchant(t, env, 'http://127.0.0.1:9')
  const bravo = await createTestMerchant(t, env, 'http://127.0.0.1:9')

  const reloads = nats.server.reloads()
  const created = await admin(nats.dir, 'nats-credential', 'create', '--merchant', alpha.id, '--label', 'erp', '--json')
  t.equal(created.code, 0, created.err)
  const credential = JSON.parse(created.out)
  t.match(credential, { user: new RegExp(`^ord_${alpha.id}_`), merchantId: alpha.id, label: 'erp', subject: `${env.ORDERS_SUBJECT_PREFIX!}.v1.${alpha.id}`, nats: /reloaded/ })
  await nats.server.reloaded(reloads)

  const db = createDatabase<MerchantTables>({ connectionString: env.DATABASE_URL!, max: 1 })
  onTeardown(t, () => db.destroy())
  const row = await db.selectFrom('nats_credentials').selectAll().where('nats_user', '=', credential.user).executeTakeFirstOrThrow()
  t.match(row.password_hash, /^\$2[aby]\$10\$/, 'a bcrypt hash is stored')
  t.notOk(row.password_hash.includes(credential.password), 'never the password')

  const orders = await nats.connectAs(credential.user, credential.password)
  await orders.js.publish(`${env.ORDERS_SUBJECT_PREFIX!}.v1.${alpha.id}`, JSON.stringify({ orderId: 'o-1' }), { msgID: 'o-1' })
  await t.rejects(orders.js.publish(`${env.ORDERS_SUBJECT_PREFIX!}.v1.${bravo.id}`, JSON.stringify({ orderId: 'o-2' }), { msgID: 'o-2' }), 'another merchant\'s orders are refused')
  await t.rejects(orders.js.publish(`${env.EVENTS_SUBJECT_PREFIX!}.payment-link.lnk_forged000001`, '{}', { msgID: 'e-1' }), 'events are refused')
  t.equal((await nats.jsm.streams.info(env.ORDERS_STREAM!)).state.messages, 1)
  t.equal((await nats.jsm.streams.info(env.EVENTS_STREAM!)).state.messages, 0)

  const listed = await admin(nats.dir, 'nats-credential', 'list', '--merchant', alpha.id)
  t.match(listed.out, credential.user)
  t.notMatch(listed.out, credential.password, 'the password is shown once')

  const closed = orders.nc.closed()
  const revoked = await admin(nats.dir, 'nats-credential', 'revoke', credential.user)
  t.equal(revoked.code, 0, revoked.err)
  t.match(revoked.out, /reloaded/)
  await closed
  t.pass('the revoked user\'s open connection was closed by the server')
  await t.rejects(nats.connectAs(credential.user, credential.password), /authorization/i, 'and it can no longer connect')
  t.equal((await admin(nats.dir, 'nats-credential', 'revoke', credential.user)).code, 1, 'revoking twice says there is no active credential')
})

t.test('pnpm admin nats-credential should store the credential and say so where no local nats-server is configured', async (t) => {
  const m = await createTestMerchant(t, env, 'http://127.0.0.1:9')
  const created = await admin('/nonexistent/paylinks-nats-auth', 'nats-credential', 'create', '--merchant', m.id)
  t.equal(created.code, 0, created.err)
  t.match(created.out, /user: +ord_mer_/)
  t.match(created.out, /no NATS authorization in \/nonexistent/)
  const unknown = await admin('/nonexistent/paylinks-nats-auth', 'nats-credential', 'create', '--merchant', 'mer_nosuchmerchant')
  t.equal(unknown.code, 1)
  t.match(unknown.err, /no such merchant/)
})
