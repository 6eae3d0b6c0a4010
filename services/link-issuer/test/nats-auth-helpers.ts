import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import {
  inboxPrefixFor, NATS_AUTHORIZATION_FILE, natsServicePasswords, natsServiceUsers, writeNatsAuthorization, writeNatsAuthState, type NatsAuthState, type NatsTopology
} from '@paylinks/messaging'
import { onTeardown, startNatsServer, type TestContext, type TestNatsServer } from '@paylinks/test-kit'

export interface AuthenticatedNats {
  server: TestNatsServer
  /** NATS_AUTH_DIR for `pnpm admin`: the users and the authorization.conf the server includes. */
  dir: string
  passwords: Record<string, string>
  /** A plain client as a user (an order system's way to connect); closed at teardown. */
  connectAs: (user: string, pass: string) => Promise<{ nc: NatsConnection, js: JetStreamClient }>
  /** The setup user's manager, to look at streams. */
  jsm: JetStreamManager
}

/** The topology of a link-issuer test environment (issuerEnv's names). */
export function topologyOf (env: Record<string, string>): NatsTopology {
  return {
    eventsStream: env.EVENTS_STREAM!,
    eventsSubjectPrefix: env.EVENTS_SUBJECT_PREFIX!,
    recorderDurable: env.RECORDER_DURABLE!,
    ordersStream: env.ORDERS_STREAM!,
    ordersSubjectPrefix: env.ORDERS_SUBJECT_PREFIX!,
    ordersDurable: env.ORDERS_DURABLE!,
    integrationStream: 'INTEGRATION',
    integrationSubjectPrefix: 'paylinks'
  }
}

/**
 * A nats-server of this test's own that authenticates with the generated users for `env`'s
 * streams, laid out as `pnpm start` lays it out (NATS_AUTH_DIR with users.json and
 * authorization.conf), so `pnpm admin nats-credential` can rewrite it and reload the server.
 */
export async function startAuthenticatedNats (t: TestContext, env: Record<string, string>): Promise<AuthenticatedNats> {
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-nats-auth-'))
  onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  const topology = topologyOf(env)
  const passwords = natsServicePasswords()
  const state: NatsAuthState = { topology, users: await natsServiceUsers(topology, passwords) }
  await writeNatsAuthState(dir, state)
  await writeNatsAuthorization(dir, state, [])
  const server = await startNatsServer(t, { authorization: { include: join(dir, NATS_AUTHORIZATION_FILE) } })
  await writeNatsAuthState(dir, { ...state, pidFile: server.pidFile })
  const connectAs = async (user: string, pass: string): Promise<{ nc: NatsConnection, js: JetStreamClient }> => {
    const nc = await connect({ servers: server.url, user, pass, inboxPrefix: inboxPrefixFor(user), timeout: 3000, reconnect: false })
    onTeardown(t, () => nc.close())
    return { nc, js: jetstream(nc, { timeout: 1500 }) }
  }
  const setup = await connectAs('setup', passwords.setup!)
  return { server, dir, passwords, connectAs, jsm: await jetstreamManager(setup.nc) }
}

/** A service's environment variables for that server. */
export function natsEnvFor (nats: AuthenticatedNats, user: string): Record<string, string> {
  return { NATS_URL: nats.server.url, NATS_USER: user, NATS_PASSWORD: nats.passwords[user]! }
}
