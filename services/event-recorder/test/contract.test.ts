import t from 'tap'
import { createEventRegistry, domainEventProducers, domainEvents, paymentLinkStream, type NewEvent } from '@paylinks/contracts'
import { encodeEvent, subjectFor } from '@paylinks/messaging'
import { buildRecorder, connectClients, recorderEnv, until } from './helpers.js'

const registry = createEventRegistry(domainEvents)
const linkId = 'lnk_contracttest01'
const streamId = paymentLinkStream(linkId)
const expiresAt = '2030-01-01T00:00:00.000Z'
const byIssuer = { correlationId: 'contract-test', producer: 'link-issuer' }
const requested = (): NewEvent => registry.create('payment-link.requested', {
  linkId, merchantId: 'mer_contract', reference: 'r-1', amount: { value: 1250, currencyCode: 'GBP' }, expiresAt, sendEmail: false, source: 'api'
}, { streamId, metadata: byIssuer })
const issued = (): NewEvent => registry.create('payment-link.issued', {
  linkId, merchantId: 'mer_contract', paymentIntentId: 'pi_sandbox_contract01', url: 'https://pay.example/pi_sandbox_contract01', expiresAt
}, { streamId, metadata: byIssuer })
const paid = (producer: string | undefined, onStream = streamId): NewEvent => registry.create('payment-link.status-changed', {
  linkId,
  paymentIntentId: 'pi_sandbox_contract01',
  from: 'issued',
  to: 'paid',
  dojoStatus: 'Captured',
  amount: { value: 1250, currencyCode: 'GBP' },
  capturedAmount: 1250,
  refundedAmount: 0,
  source: 'webhook',
  observedAt: expiresAt
}, { streamId: onStream, metadata: { correlationId: 'forged', ...(producer === undefined ? {} : { producer }) } })

t.test('the recorder should dead-letter each kind of refused event, with its reason, and record the good ones around them in order', async (t) => {
  const env = await recorderEnv(t)
  const { messaging, store } = await connectClients(t, env)
  const recorder = await buildRecorder(t, env, { registry, producers: domainEventProducers }) // the production contract
  const raw = async (event: NewEvent, subject = subjectFor(env.EVENTS_SUBJECT_PREFIX!, event.streamId)): Promise<number> =>
    (await messaging.js.publish(subject, encodeEvent(event), { msgID: event.id })).seq

  const first = requested()
  const good1 = await raw(first)
  const refused = [
    ['not-an-event', await raw({ ...first, id: crypto.randomUUID(), streamId: 'not a stream id' }, `${env.EVENTS_SUBJECT_PREFIX}.${streamId}`)],
    ['unknown-type', await raw({ ...first, id: crypto.randomUUID(), type: 'payment-link.teleported' })],
    ['unsupported-version', await raw({ ...issued(), schemaVersion: 2 })],
    ['invalid-data', await raw({ ...issued(), data: { ...issued().data, url: 42 } })],
    ['producer-not-allowed', await raw(paid('link-issuer'))],
    ['producer-not-allowed', await raw(paid(undefined))],
    ['subject-mismatch', await raw(paid('webhook-ingest', 'order.contract-test'))]
  ] as const
  const second = issued()
  const good2 = await raw(second)
  await store.waitForPosition(good2, 10_000)

  t.same((await store.readAll(0)).map((e) => [e.position, e.id]), [[good1, first.id], [good2, second.id]], 'only the good events are recorded, in log order')
  const letters = await store.db.selectFrom('es_dead_letters').select(['position', 'kind', 'reason', 'body']).orderBy('position').execute()
  t.same(letters.map((l) => [l.position, l.kind]), refused.map(([kind, seq]) => [seq, kind]), 'every refused message is kept at its position with its kind')
  t.match(letters.map((l) => l.reason), [/\/streamId/, /unknown event type 'payment-link.teleported'/, /v2, but this process reads up to v1/, /\/url/,
    /names producer 'link-issuer'; allowed: webhook-ingest/, /names producer '\(none\)'/, /payment-link.status-changed is not of the stream's category order/])
  t.ok(letters.every((l) => l.body.startsWith('{')), 'the body is kept as published')

  const metric = async (): Promise<string> => (await recorder.inject('/metrics')).body
  await until(async () => /event_recorder_dead_letters_total\{reason="producer-not-allowed"\} 2\b/.test(await metric()), 10_000, 'dead letters counted')
  const body = await metric()
  for (const kind of ['not-an-event', 'unknown-type', 'unsupported-version', 'invalid-data', 'subject-mismatch']) {
    t.match(body, new RegExp(`event_recorder_dead_letters_total\\{reason="${kind}"\\} 1\\b`), kind)
  }
  t.match(body, /event_recorder_events_recorded_total 2\b/)
  const status = (await recorder.inject('/status')).json()
  t.same(status.deadLetters, {
    total: 7,
    byReason: { 'not-an-event': 1, 'unknown-type': 1, 'unsupported-version': 1, 'invalid-data': 1, 'producer-not-allowed': 2, 'subject-mismatch': 1 },
    lastPosition: refused.at(-1)![1]
  })
  t.equal(status.lastSeq, good2, 'the recorder went on past them')
})
