import t from 'tap'
import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core'
import { DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { eventsStreamEnv, natsTestNames, roleUrl, type TestContext } from '@paylinks/test-kit'
import { buildConsole } from '../services/console/test/helpers.js'
import { buildApp as buildSandbox } from '../services/dojo-sandbox/test/helper.js'
import { buildIssuer, ENCRYPTION_KEY } from '../services/link-issuer/test/helpers.js'
import { buildProjector } from '../services/projector/test/helpers.js'
import { buildDispatch } from '../services/webhook-dispatch/test/helpers.js'
import { buildIngest } from '../services/webhook-ingest/test/helpers.js'

// Every service's OpenAPI document, as a partner downloads it from /docs/json, must pass
// Redocly's `recommended` ruleset with nothing switched off: a client generator then gets
// operation names, servers, security and error shapes, not guesses. event-recorder serves no
// document (it has no API beyond health and metrics).

const { url } = await createMigratedTestDatabase(t)
const events = natsTestNames(t, 'oa')
const common = { ...eventsStreamEnv(events), LOG_LEVEL: 'warn', PORT: '0' }

type App = Awaited<ReturnType<typeof buildIssuer>>

const services: Record<string, (t: TestContext) => Promise<App>> = {
  'link-issuer': async (t) => await buildIssuer(t, {
    ...common,
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.linkIssuer),
    ...orders(),
    SECRETS_ENCRYPTION_KEYS: ENCRYPTION_KEY,
    PUBLIC_URL: 'https://pay.paylinks.test',
    RECOVERY_INTERVAL_MS: '0'
  }),
  'webhook-ingest': async (t) => (await buildIngest(t, {
    ...common,
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.webhookIngest),
    SECRETS_ENCRYPTION_KEYS: ENCRYPTION_KEY,
    PUBLIC_URL: 'https://hooks.paylinks.test',
    SUBSCRIPTION_SYNC_ON_START: 'false',
    RECONCILE_INTERVAL_MS: '3600000'
  })).app,
  projector: async (t) => await buildProjector(t, {
    ...common,
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.projector),
    INTEGRATION_STREAM: `${events.stream}_INT`,
    INTEGRATION_SUBJECT_PREFIX: `int${events.durable.slice(-10)}`
  }),
  'webhook-dispatch': async (t) => await buildDispatch(t, {
    ...common,
    DATABASE_URL: roleUrl(url, DATABASE_ROLES.webhookDispatch),
    SECRETS_ENCRYPTION_KEYS: ENCRYPTION_KEY
  }),
  'dojo-sandbox': async (t) => await buildSandbox(t),
  console: async (t) => (await buildConsole(t, {}, url)).app
}

function orders (): Record<string, string> {
  const names = natsTestNames(t, 'oaord')
  return { ORDERS_STREAM: names.stream, ORDERS_SUBJECT_PREFIX: names.subjectPrefix, ORDERS_DURABLE: names.durable }
}

const recommended = await createConfig({ extends: ['recommended'] })
const configs: Record<string, typeof recommended> = {
  // The sandbox serves Dojo's own paths, and Dojo has /payment-intents/refunds/{refundId} beside
  // /payment-intents/{paymentIntentId}/captures: the emulator cannot rename them, and Fastify
  // (like Dojo) matches the static segment first, so the two never collide at run time.
  'dojo-sandbox': await createConfig({ extends: ['recommended'], rules: { 'no-ambiguous-paths': 'off' } })
}

const where = (p: NormalizedProblem): string => p.location.map((l) => l.pointer ?? '').join(', ')

for (const [name, build] of Object.entries(services)) {
  t.test(`${name}'s OpenAPI document should lint clean under Redocly's recommended rules`, async (t) => {
    const app = await build(t)
    const res = await app.inject({ method: 'GET', url: '/docs/json' })
    t.equal(res.statusCode, 200)
    const problems = await lintFromString({ source: res.body, absoluteRef: `${name}.json`, config: configs[name] ?? recommended })
    const errors = problems.filter((p) => p.severity === 'error')
    const warnings = problems.filter((p) => p.severity === 'warn')
    t.comment(`${name}: ${errors.length} errors, ${warnings.length} warnings`)
    // One failure per problem, so the output lists them all with where they are.
    for (const p of problems) t.fail(`${p.severity} ${p.ruleId} at ${where(p)}: ${p.message}`)
    t.equal(problems.length, 0, `${name}: no problems`)
  })
}
