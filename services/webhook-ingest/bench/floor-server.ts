// The durable floor for a webhook (issue 16), with the raw libraries and none of the project's
// code: keep the raw body, check Dojo's HMAC, publish the body to JetStream and answer after the
// ack. Beside it the floor recorder (test-kit) makes each message permanent in Postgres. What
// webhook-ingest does beyond this (validation, de-duplication, the link lookup, the confirmation
// queue) is the cost the benchmark compares against it.
//
// env: PORT, NATS_URL, FLOOR_STREAM, FLOOR_SUBJECT_PREFIX, WEBHOOK_SECRET
import { createHmac, timingSafeEqual } from 'node:crypto'
import Fastify from 'fastify'
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'

const need = (name: string): string => process.env[name] ?? (() => { throw new Error(`${name} is required`) })()
const [PORT, NATS_URL, FLOOR_STREAM, FLOOR_SUBJECT_PREFIX, WEBHOOK_SECRET] = ['PORT', 'NATS_URL', 'FLOOR_STREAM', 'FLOOR_SUBJECT_PREFIX', 'WEBHOOK_SECRET'].map(need) as [string, string, string, string, string]
const nc = await connect({ servers: NATS_URL })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({ name: FLOOR_STREAM, subjects: [`${FLOOR_SUBJECT_PREFIX}.>`] }).catch(async () => await jsm.streams.info(FLOOR_STREAM))
const js = jetstream(nc)
const key = Buffer.from(WEBHOOK_SECRET, 'utf8')

const app = Fastify({ logger: false })
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
app.post<{ Params: { merchantId: string }, Body: Buffer }>('/webhooks/dojo/:merchantId', async (request, reply) => {
  // dojo-signature: sha256=<upper-case hex pairs joined by '-'>
  const header = String(request.headers['dojo-signature'] ?? '')
  const given = Buffer.from(header.slice('sha256='.length).replaceAll('-', ''), 'hex')
  const expected = createHmac('sha256', key).update(request.body).digest()
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return await reply.code(401).send()
  const id = (JSON.parse(request.body.toString('utf8')) as { id: string }).id
  await js.publish(`${FLOOR_SUBJECT_PREFIX}.${request.params.merchantId}`, request.body, { msgID: id })
  return { status: 'accepted' }
})
await app.listen({ host: '127.0.0.1', port: Number(PORT) })
console.log('floor listening')
