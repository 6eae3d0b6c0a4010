import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { onTeardown, startNatsCluster, startNatsServer, type TestContext, type TestNatsCluster, type TestNatsServer } from '@paylinks/test-kit'
import { defaultNatsTopology, inboxPrefixFor, natsServicePasswords, natsServiceUsers, type NatsTopology } from './auth.js'
import { NATS_AUTHORIZATION_FILE, writeNatsAuthorization, writeNatsAuthState, type NatsAuthState } from './auth-files.js'

export interface AuthenticatedNats {
  server: TestNatsServer
  /** NATS_AUTH_DIR: users.json and the authorization.conf the server includes, as pnpm start lays them out. */
  dir: string
  topology: NatsTopology
  /** The generated users' plain passwords (services and `setup`), for this test only. */
  passwords: Record<string, string>
  /** The setup user's manager, to look at streams. */
  jsm: JetStreamManager
  /** NATS_URL, NATS_USER and NATS_PASSWORD for a service running as `user`. */
  envFor: (user: string) => Record<string, string>
}

/** The NATS names of a service's test environment (eventsStreamEnv and friends), over the defaults. */
export function topologyFromEnv (env: Record<string, string | undefined>): NatsTopology {
  return {
    eventsStream: env.EVENTS_STREAM ?? defaultNatsTopology.eventsStream,
    eventsSubjectPrefix: env.EVENTS_SUBJECT_PREFIX ?? defaultNatsTopology.eventsSubjectPrefix,
    recorderDurable: env.RECORDER_DURABLE ?? defaultNatsTopology.recorderDurable,
    ordersStream: env.ORDERS_STREAM ?? defaultNatsTopology.ordersStream,
    ordersSubjectPrefix: env.ORDERS_SUBJECT_PREFIX ?? defaultNatsTopology.ordersSubjectPrefix,
    ordersDurable: env.ORDERS_DURABLE ?? defaultNatsTopology.ordersDurable,
    integrationStream: env.INTEGRATION_STREAM ?? defaultNatsTopology.integrationStream,
    integrationSubjectPrefix: env.INTEGRATION_SUBJECT_PREFIX ?? defaultNatsTopology.integrationSubjectPrefix
  }
}

/**
 * NATS_AUTH_DIR for a test, laid out as pnpm start lays it out: the generated users for
 * `topology` (passwords returned, for this test only) and the authorization file a server
 * includes (`include`); removed at teardown.
 */
async function authorizationFor (t: TestContext, topology: NatsTopology): Promise<{ dir: string, passwords: Record<string, string>, state: NatsAuthState, include: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-nats-auth-'))
  onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  const passwords = natsServicePasswords()
  const state: NatsAuthState = { topology, users: await natsServiceUsers(topology, passwords) }
  await writeNatsAuthState(dir, state)
  await writeNatsAuthorization(dir, state, [])
  return { dir, passwords, state, include: join(dir, NATS_AUTHORIZATION_FILE) }
}

/**
 * A nats-server of this test's own that authenticates the generated users for `topology`, with
 * no anonymous access; stopped and its files removed at teardown.
 */
export async function startAuthenticatedNats (t: TestContext, topology: NatsTopology): Promise<AuthenticatedNats> {
  const { dir, passwords, state, include } = await authorizationFor(t, topology)
  const server = await startNatsServer(t, { authorization: { include } })
  await writeNatsAuthState(dir, { ...state, pidFile: server.pidFile })
  const nc = await connect({ servers: server.url, user: 'setup', pass: passwords.setup!, inboxPrefix: inboxPrefixFor('setup'), reconnect: false })
  onTeardown(t, () => nc.close())
  return {
    server,
    dir,
    topology,
    passwords,
    jsm: await jetstreamManager(nc),
    envFor: (user) => ({ NATS_URL: server.url, NATS_USER: user, NATS_PASSWORD: passwords[user] ?? '' })
  }
}

export interface AuthenticatedNatsCluster {
  cluster: TestNatsCluster
  dir: string
  topology: NatsTopology
  passwords: Record<string, string>
  /** The setup user's manager (connected to every node), to look at streams. */
  jsm: JetStreamManager
  /** NATS_URL (every node), NATS_USER and NATS_PASSWORD for a service running as `user`. */
  envFor: (user: string) => Record<string, string>
}

/**
 * A JetStream cluster of this test's own (`startNatsCluster`) whose nodes authenticate the
 * generated users for `topology`, as `startAuthenticatedNats` does for one server.
 */
export async function startAuthenticatedNatsCluster (t: TestContext, topology: NatsTopology, options: { nodes?: number } = {}): Promise<AuthenticatedNatsCluster> {
  const { dir, passwords, include } = await authorizationFor(t, topology)
  const cluster = await startNatsCluster(t, { ...options, authorization: { include } })
  const nc = await connect({ servers: cluster.servers.split(','), user: 'setup', pass: passwords.setup!, inboxPrefix: inboxPrefixFor('setup') })
  onTeardown(t, () => nc.close())
  return {
    cluster,
    dir,
    topology,
    passwords,
    jsm: await jetstreamManager(nc),
    envFor: (user) => ({ NATS_URL: cluster.servers, NATS_USER: user, NATS_PASSWORD: passwords[user] ?? '' })
  }
}
