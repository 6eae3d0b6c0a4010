import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { inboxPrefixFor } from '@paylinks/messaging'
import { startAuthenticatedNats as startServer, topologyFromEnv, type AuthenticatedNats } from '@paylinks/messaging/testing'
import { onTeardown, type TestContext } from '@paylinks/test-kit'

export interface IssuerNats extends AuthenticatedNats {
  /** A plain client as a user (an order system's way to connect); closed at teardown. */
  connectAs: (user: string, pass: string) => Promise<{ nc: NatsConnection, js: JetStreamClient }>
}

/**
 * A nats-server of this test's own that authenticates the generated users for `env`'s streams,
 * laid out as `pnpm start` lays it out, so `pnpm admin nats-credential` can rewrite and reload it.
 */
export async function startAuthenticatedNats (t: TestContext, env: Record<string, string>): Promise<IssuerNats> {
  const nats = await startServer(t, topologyFromEnv(env))
  return {
    ...nats,
    connectAs: async (user, pass) => {
      const nc = await connect({ servers: nats.server.url, user, pass, inboxPrefix: inboxPrefixFor(user), timeout: 3000, reconnect: false })
      onTeardown(t, () => nc.close())
      return { nc, js: jetstream(nc, { timeout: 1500 }) }
    }
  }
}
