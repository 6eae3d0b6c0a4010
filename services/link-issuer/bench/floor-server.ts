// The durable floor for a payment link (issue 16), with the raw libraries and none of the
// project's code: publish a `requested` message to JetStream, create the intent at the sandbox,
// publish `issued`, answer. Beside it the floor recorder (test-kit) makes both messages
// permanent in Postgres. What link-issuer does beyond this (authentication, validation, the
// reference claim, expected-sequence decisions, the read model) is the cost the benchmark
// compares against it.
//
// env: PORT, NATS_URL, FLOOR_STREAM, FLOOR_SUBJECT_PREFIX, API_KEY, DOJO_URL, DOJO_KEY
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'

const need = (name: string): string => process.env[name] ?? (() => { throw new Error(`${name} is required`) })()
const [PORT, NATS_URL, FLOOR_STREAM, FLOOR_SUBJECT_PREFIX, API_KEY, DOJO_URL, DOJO_KEY] =
  ['PORT', 'NATS_URL', 'FLOOR_STREAM', 'FLOOR_SUBJECT_PREFIX', 'API_KEY', 'DOJO_URL', 'DOJO_KEY'].map(need) as [string, string, string, string, string, string, string]
const nc = await connect({ servers: NATS_URL })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({ name: FLOOR_STREAM, subjects: [`${FLOOR_SUBJECT_PREFIX}.>`] }).catch(async () => await jsm.streams.info(FLOOR_STREAM))
const js = jetstream(nc)
const dojoHeaders = { authorization: `Basic ${DOJO_KEY}`, version: '2026-02-27', 'content-type': 'application/json' }

interface Body { reference: string, amount: { value: number, currencyCode: string }, description?: string }

const app = Fastify({ logger: false })
app.post<{ Body: Body }>('/v1/payment-links', async (request, reply) => {
  if (request.headers.authorization !== `Bearer ${API_KEY}`) return await reply.code(401).send()
  const { reference, amount, description } = request.body
  const linkId = `lnk_${randomUUID().replaceAll('-', '')}`
  const subject = `${FLOOR_SUBJECT_PREFIX}.${linkId}`
  await js.publish(subject, JSON.stringify({ type: 'requested', linkId, reference, amount, description }), { msgID: randomUUID() })
  const res = await fetch(`${DOJO_URL}/payment-intents`, {
    method: 'POST',
    headers: dojoHeaders,
    body: JSON.stringify({ amount, reference, description, paymentSource: 'payment-links' }),
    signal: AbortSignal.timeout(10_000)
  })
  if (!res.ok) return await reply.code(502).send({ status: res.status })
  const intent = await res.json() as { id: string }
  const url = `${DOJO_URL}/checkout/${intent.id}`
  await js.publish(subject, JSON.stringify({ type: 'issued', linkId, paymentIntentId: intent.id, url }), { msgID: randomUUID() })
  return await reply.code(201).send({ id: linkId, status: 'issued', url })
})
await app.listen({ host: '127.0.0.1', port: Number(PORT) })
console.log('floor listening')
