import { fileURLToPath } from 'node:url'
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { createEventRegistry, domainEvents, orderSubject, paymentLinkStream, reusableLinkStream } from '@paylinks/contracts'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { activeNatsCredentials, createNatsCredential, newNatsCredentialUser, type MerchantTables } from '@paylinks/merchants'
import { encodeEvent, eventHeaders, hashNatsPassword, newNatsPassword, readNatsAuthState, subjectFor, writeNatsAuthorization } from '@paylinks/messaging'
import { onTeardown, roleUrl, spawnService } from '@paylinks/test-kit'
import { linkIdFor } from '../src/link.js'
import { auth, buildIssuer, createTestMerchant, issuerEnv, openStore, startSandbox, until } from './helpers.js'
import { startAuthenticatedNats } from './nats-auth-helpers.js'

const RECORDER_ENTRY = fileURLToPath(new URL('../../event-recorder/src/server.ts', import.meta.url))

t.test('link-issuer and the recorder should run on their own NATS users, and an order credential should not forge a payment', async (t) => {
  const sandbox = await startSandbox(t)
  const env = await issuerEnv(t)
  const nats = await startAuthenticatedNats(t, env)
  const recorder = spawnService(t, RECORDER_ENTRY, {
    DATABASE_URL: roleUrl(env.DATABASE_URL!, DATABASE_ROLES.eventRecorder),
    EVENTS_STREAM: env.EVENTS_STREAM!,
    EVENTS_SUBJECT_PREFIX: env.EVENTS_SUBJECT_PREFIX!,
    RECORDER_DURABLE: env.RECORDER_DURABLE!,
    ...nats.envFor('event-recorder'),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    PORT: '0'
  })
  await recorder.waitFor(/"msg":"recording"/)
  t.notMatch(recorder.output(), nats.passwords['event-recorder']!, 'the recorder never logs its password')
  const app = await buildIssuer(t, { ...env, ...nats.envFor('link-issuer') })
  const store = await openStore(t, env)

  // What `pnpm admin nats-credential create` does, in process.
  const merchant = await createTestMerchant(t, env, sandbox.url)
  const db = createDatabase<MerchantTables>({ connectionString: env.DATABASE_URL!, max: 1 })
  onTeardown(t, () => db.destroy())
  const user = newNatsCredentialUser(merchant.id)
  const password = newNatsPassword()
  await createNatsCredential(db, { user, merchantId: merchant.id, passwordHash: await hashNatsPassword(password) })
  const reloads = nats.server.reloads()
  await writeNatsAuthorization(nats.dir, (await readNatsAuthState(nats.dir))!, await activeNatsCredentials(db))
  await nats.server.reload()
  t.ok(nats.server.reloads() > reloads)

  const orders = await nats.connectAs(user, password)
  await orders.js.publish(orderSubject(env.ORDERS_SUBJECT_PREFIX!, merchant.id), JSON.stringify({ orderId: 'auth-1', merchantId: merchant.id, amount: { value: 1200, currencyCode: 'GBP' } }), { msgID: 'auth-1' })
  const linkId = linkIdFor(merchant.id, 'auth-1')
  const types = await until(async () => {
    const events = (await store.readStream(paymentLinkStream(linkId))).map((e) => e.type)
    return events.includes('payment-link.issued') ? events : undefined
  }, 30_000, 'the order issued and recorded')
  t.same(types, ['payment-link.requested', 'payment-link.issued'], 'the order became a link, recorded by the recorder')

  const forged = createEventRegistry(domainEvents).create('payment-link.status-changed', {
    linkId,
    paymentIntentId: 'pi_forged0000001',
    from: 'issued',
    to: 'paid',
    dojoStatus: 'Captured',
    amount: { value: 1200, currencyCode: 'GBP' },
    capturedAmount: 1200,
    refundedAmount: 0,
    source: 'webhook',
    observedAt: new Date().toISOString()
  }, { streamId: paymentLinkStream(linkId), metadata: { correlationId: 'forgery', producer: 'webhook-ingest' } })
  const subject = subjectFor(env.EVENTS_SUBJECT_PREFIX!, forged.streamId)
  await t.rejects(orders.js.publish(subject, encodeEvent(forged), { msgID: forged.id, headers: eventHeaders(forged) }), /permission/i, 'the order credential may not publish an event')
  // A reusable link and its payer's admission go out on link-issuer's own user; the order credential may not forge one.
  const reusable = await app.inject({ method: 'POST', url: '/v1/reusable-links', headers: auth(merchant.apiKey), payload: { reference: 'auth-reusable', amount: { value: 900, currencyCode: 'GBP' }, maxPayments: 1 } })
  t.equal(reusable.statusCode, 201, reusable.body)
  const payer = await app.inject({ method: 'POST', url: `${new URL(reusable.json().url as string).pathname}/pay`, headers: { accept: 'application/json' } })
  t.equal(payer.statusCode, 201, payer.body)
  const admitted = createEventRegistry(domainEvents).create('reusable-link.payer-admitted', {
    reusableLinkId: reusable.json().id, childLinkId: linkIdFor(merchant.id, 'forged-payer'), payer: 2, holdUntil: new Date().toISOString()
  }, { streamId: reusableLinkStream(reusable.json().id), metadata: { correlationId: 'forgery', producer: 'link-issuer' } })
  await t.rejects(orders.js.publish(subjectFor(env.EVENTS_SUBJECT_PREFIX!, admitted.streamId), encodeEvent(admitted), { msgID: admitted.id, headers: eventHeaders(admitted) }), /permission/i,
    'the order credential may not admit a payer')
  await t.rejects(connect({ servers: nats.server.url, timeout: 3000, reconnect: false }), /authorization/i, 'a client without credentials is refused')

  const last = (await nats.jsm.streams.info(env.EVENTS_STREAM!)).state.last_seq
  await store.waitForPosition(last, 20_000)
  t.same((await store.readStream(paymentLinkStream(linkId))).map((e) => e.type), ['payment-link.requested', 'payment-link.issued'], 'the link is not paid')
  t.same((await store.readStream(reusableLinkStream(reusable.json().id))).map((e) => e.type), ['reusable-link.created', 'reusable-link.payer-admitted'], 'one payer admitted, none forged')
})
