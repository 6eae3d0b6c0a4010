import { startNatsServer, onTeardown, uniqueSuffix, type TestContext, type TestNatsServer } from '@paylinks/test-kit'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { connectMessaging, hashNatsPassword, inboxPrefixFor, natsAuthConfig, NatsServices, newNatsPassword, orderSystemPermissions, servicePermissions, setupPermissions, type Messaging, type NatsService, type NatsTopology, type NatsUser } from '../src/index.js'

export interface AuthServer {
  server: TestNatsServer
  topology: NatsTopology
  /** Plain passwords of the service users and `setup`, for this test only. */
  passwords: Record<string, string>
  /** Connect as a service user (closed at teardown). */
  connectAs: (user: string, pass?: string) => Promise<Messaging>
  /** Connect as an order system does: core NATS and a JetStream publisher, no management API. */
  connectOrderSystem: (user: string, pass: string) => Promise<{ js: JetStreamClient, nc: NatsConnection }>
  /** Add an order-system user for a merchant and reload; resolves with its password. */
  addOrderSystem: (user: string, merchantId: string) => Promise<string>
  removeUser: (user: string) => Promise<void>
}

/** An authenticated nats-server of this test's own, with the generated users of every service. */
export async function startAuthServer (t: TestContext): Promise<AuthServer> {
  const s = uniqueSuffix()
  const topology: NatsTopology = {
    eventsStream: `EV_${s}`,
    eventsSubjectPrefix: `ev${s}`,
    recorderDurable: `rec_${s}`,
    ordersStream: `ORD_${s}`,
    ordersSubjectPrefix: `ord${s}`,
    ordersDurable: `li_${s}`,
    integrationStream: `INT_${s}`,
    integrationSubjectPrefix: `int${s}`
  }
  const passwords: Record<string, string> = {}
  let users: NatsUser[] = []
  const principals: Array<{ user: string, permissions: NatsUser['permissions'] }> = [
    ...NatsServices.map((service: NatsService) => ({ user: service, permissions: servicePermissions(service, topology) })),
    { user: 'setup', permissions: setupPermissions() }
  ]
  for (const p of principals) {
    passwords[p.user] = newNatsPassword()
    users.push({ ...p, password: await hashNatsPassword(passwords[p.user]!) })
  }
  const server = await startNatsServer(t, { authorization: natsAuthConfig({ users }) })
  return {
    server,
    topology,
    passwords,
    connectAs: async (user, pass = passwords[user]) => {
      const messaging = await connectMessaging({ servers: server.url, name: `auth-test-${user}`, user, ...(pass === undefined ? {} : { pass }), timeoutMs: 1500, connectTimeoutMs: 3000 })
      onTeardown(t, () => messaging.close())
      return messaging
    },
    connectOrderSystem: async (user, pass) => {
      const nc = await connect({ servers: server.url, user, pass, inboxPrefix: inboxPrefixFor(user), timeout: 3000, reconnect: false })
      onTeardown(t, () => nc.close())
      return { nc, js: jetstream(nc, { timeout: 1500 }) }
    },
    addOrderSystem: async (user, merchantId) => {
      const password = newNatsPassword()
      users = [...users, { user, password: await hashNatsPassword(password), permissions: orderSystemPermissions(user, merchantId, topology) }]
      await server.reload(natsAuthConfig({ users }))
      return password
    },
    removeUser: async (user) => {
      users = users.filter((u) => u.user !== user)
      await server.reload(natsAuthConfig({ users }))
    }
  }
}
