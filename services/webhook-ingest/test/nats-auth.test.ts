import t from 'tap'
import { startAuthenticatedNats, topologyFromEnv } from '@paylinks/messaging/testing'
import { buildIngest, ingestEnv } from './helpers.js'

t.test('webhook-ingest should start on its own NATS user and declare the events stream', async (t) => {
  const env = await ingestEnv(t)
  const nats = await startAuthenticatedNats(t, topologyFromEnv(env))
  const { app } = await buildIngest(t, { ...env, ...nats.envFor('webhook-ingest') })
  t.same((await app.inject('/readyz')).json(), { status: 'ok', checks: { postgres: 'ok', nats: 'ok' } })
  t.equal((await nats.jsm.streams.info(env.EVENTS_STREAM!)).config.name, env.EVENTS_STREAM)
})
