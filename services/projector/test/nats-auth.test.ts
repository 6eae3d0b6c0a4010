import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createDatabase, record } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { startAuthenticatedNats, topologyFromEnv } from '@paylinks/messaging/testing'
import { onTeardown, uniqueSuffix } from '@paylinks/test-kit'
import { buildHistory } from './fixtures/history.js'
import { buildProjector } from './helpers.js'

t.test('the projector should publish integration events on its own NATS user', async (t) => {
  const { url } = await createMigratedTestDatabase(t)
  const db = createDatabase<MerchantTables>({ connectionString: url, max: 2 })
  onTeardown(t, () => db.destroy())
  await createMerchant(db, createSecretBox([randomBytes(32).toString('base64')]), { id: 'mer_natsauth01', name: 'n', dojoSecretKey: 'sk_sandbox_testkey123', dojoBaseUrl: 'http://127.0.0.1:4010' })
  await record(db as never, buildHistory({ merchants: ['mer_natsauth01'], linksPerMerchant: 3, start: new Date(Date.now() - 3_600_000) }))
  const s = uniqueSuffix()
  const env = { DATABASE_URL: url, EVENTS_STREAM: `PEV_${s}`, EVENTS_SUBJECT_PREFIX: `pev${s}`, INTEGRATION_STREAM: `PINT_${s}`, INTEGRATION_SUBJECT_PREFIX: `pint${s}`, LOG_LEVEL: 'warn', PROJECTION_RECONCILE_MS: '50' }
  const nats = await startAuthenticatedNats(t, topologyFromEnv(env))
  const app = await buildProjector(t, { ...env, ...nats.envFor('projector') })
  t.equal((await app.inject('/readyz')).statusCode, 200)
  for (let i = 0; (await nats.jsm.streams.info(env.INTEGRATION_STREAM)).state.messages < 3; i++) {
    if (i > 400) throw new Error('no integration events published within 20 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const first = await nats.jsm.streams.getMessage(env.INTEGRATION_STREAM, { seq: 1 })
  t.match(first?.subject, new RegExp(`^pint${s}\\.v1\\.[a-z.-]+\\.mer_natsauth01$`), 'on the documented subject')
})
