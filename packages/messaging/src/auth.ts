import { randomBytes } from 'node:crypto'
import bcrypt from 'bcryptjs'

/** The services that connect to NATS, each as its own user of the same name. */
export const NatsServices = ['link-issuer', 'webhook-ingest', 'event-recorder', 'projector', 'webhook-dispatch'] as const
export type NatsService = typeof NatsServices[number]

/** Stream names, subject prefixes and durables of one deployment: permissions are built from them. */
export interface NatsTopology {
  eventsStream: string
  eventsSubjectPrefix: string
  recorderDurable: string
  ordersStream: string
  ordersSubjectPrefix: string
  ordersDurable: string
  integrationStream: string
  integrationSubjectPrefix: string
}

/** The defaults every service's configuration has. */
export const defaultNatsTopology: NatsTopology = {
  eventsStream: 'EVENTS',
  eventsSubjectPrefix: 'events',
  recorderDurable: 'event-recorder',
  ordersStream: 'ORDERS',
  ordersSubjectPrefix: 'orders',
  ordersDurable: 'link-issuer',
  integrationStream: 'INTEGRATION',
  integrationSubjectPrefix: 'paylinks'
}

export interface NatsPermissions {
  publish: { allow: string[], deny: string[] }
  subscribe: { allow: string[], deny: string[] }
}

/**
 * A user in the server's configuration. `password` is a bcrypt hash (`$2a$…`, what we store),
 * or `{ env }` for a `$VAR` reference the server resolves from its environment at start.
 */
export interface NatsUser {
  user: string
  password: string | { env: string }
  permissions: NatsPermissions
}

/**
 * Replies (JetStream API answers, publish acks, pulled messages) go to this prefix: each user
 * may subscribe to its own inbox only, so no one reads another principal's replies.
 */
export function inboxPrefixFor (user: string): string {
  return `_INBOX_${user}`
}

// Nobody but the setup user deletes or purges a stream or its messages, whatever else they hold.
const DESTRUCTIVE = ['$JS.API.STREAM.DELETE.>', '$JS.API.STREAM.PURGE.>', '$JS.API.STREAM.MSG.DELETE.>']

function declares (stream: string): string[] {
  return [`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`]
}

function consumes (stream: string, durable: string): string[] {
  return [
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    // nats.js creates and updates a durable with its filter in the subject (server 2.9+)...
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.>`,
    // ...or, on older servers, through the durable API.
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`
  ]
}

/**
 * What each service may publish and subscribe to: exactly the subjects its code uses. Only
 * link-issuer and webhook-ingest publish events; only the recorder consumes the events stream.
 */
export function servicePermissions (service: NatsService, topology: NatsTopology): NatsPermissions {
  const t = topology
  const events = `${t.eventsSubjectPrefix}.>`
  const base = { publish: ['$JS.API.INFO'], subscribe: [`${inboxPrefixFor(service)}.>`] }
  switch (service) {
    case 'link-issuer':
      return {
        publish: {
          allow: [...base.publish, `${t.eventsSubjectPrefix}.payment-link.>`, `${t.eventsSubjectPrefix}.order.>`, `${t.eventsSubjectPrefix}.customer.>`, `${t.eventsSubjectPrefix}.reusable-link.>`, ...declares(t.eventsStream), ...declares(t.ordersStream), ...consumes(t.ordersStream, t.ordersDurable)],
          deny: DESTRUCTIVE
        },
        subscribe: { allow: base.subscribe, deny: [] }
      }
    case 'webhook-ingest':
      return {
        publish: { allow: [...base.publish, `${t.eventsSubjectPrefix}.payment-link.>`, ...declares(t.eventsStream)], deny: DESTRUCTIVE },
        subscribe: { allow: base.subscribe, deny: [] }
      }
    case 'event-recorder':
      return {
        publish: {
          allow: [...base.publish, ...declares(t.eventsStream), `$JS.API.STREAM.MSG.GET.${t.eventsStream}`, `$JS.API.CONSUMER.DELETE.${t.eventsStream}.${t.recorderDurable}`, ...consumes(t.eventsStream, t.recorderDurable)],
          deny: [events, ...DESTRUCTIVE]
        },
        subscribe: { allow: base.subscribe, deny: [] }
      }
    case 'projector':
      return {
        publish: { allow: [...base.publish, `${t.integrationSubjectPrefix}.v1.>`, ...declares(t.integrationStream)], deny: [events, ...DESTRUCTIVE] },
        subscribe: { allow: base.subscribe, deny: [] }
      }
    case 'webhook-dispatch':
      // Partners' endpoint configuration is its only write; deliveries go out over HTTP.
      return {
        publish: { allow: [...base.publish, `${t.eventsSubjectPrefix}.webhook-endpoint.>`, ...declares(t.eventsStream)], deny: DESTRUCTIVE },
        subscribe: { allow: base.subscribe, deny: [] }
      }
  }
}

/** An order system's credential: it publishes its one merchant's orders, and nothing else. */
export function orderSystemPermissions (user: string, merchantId: string, topology: NatsTopology): NatsPermissions {
  // One plain subject token: a `*`, `>` or `.` would grant other merchants' subjects.
  if (!/^[A-Za-z0-9_-]+$/.test(merchantId)) throw new Error(`merchant id ${JSON.stringify(merchantId)} is not a single subject token`)
  return {
    publish: { allow: [`${topology.ordersSubjectPrefix}.v1.${merchantId}`], deny: [`${topology.eventsSubjectPrefix}.>`, '$JS.>'] },
    subscribe: { allow: [`${inboxPrefixFor(user)}.>`], deny: [] }
  }
}

/** Setup (pnpm start's continuity check and --reset): everything, on a password only it holds. */
export function setupPermissions (): NatsPermissions {
  return { publish: { allow: ['>'], deny: [] }, subscribe: { allow: ['>'], deny: [] } }
}

/** A fresh random password: 32 bytes, URL-safe. */
export function newNatsPassword (): string {
  return randomBytes(32).toString('base64url')
}

/** The bcrypt hash nats-server checks a password against; the password itself is never stored. */
export async function hashNatsPassword (password: string): Promise<string> {
  // Cost 10: the server checks the hash on every connect, and reconnects must stay quick.
  return await bcrypt.hash(password, 10)
}

const quote = (s: string): string => JSON.stringify(s)
const list = (items: string[]): string => `[${items.map(quote).join(', ')}]`

function renderPermissions (p: NatsPermissions): string {
  const side = (name: string, s: { allow: string[], deny: string[] }): string =>
    `${name}: { allow: ${list(s.allow)}${s.deny.length > 0 ? `, deny: ${list(s.deny)}` : ''} }`
  return `{\n        ${side('publish', p.publish)}\n        ${side('subscribe', p.subscribe)}\n      }`
}

/**
 * The `authorization` block of a nats-server configuration (2.9): one user per principal with
 * its permissions. Anything not allowed is refused by the server, and a client without a user
 * is refused at connect.
 */
export function natsAuthConfig (options: { users: NatsUser[] }): string {
  const seen = new Set<string>()
  const users = options.users.map((u) => {
    if (!/^[A-Za-z0-9_-]+$/.test(u.user)) throw new Error(`NATS user name ${JSON.stringify(u.user)} must be letters, digits, _ or -`)
    if (seen.has(u.user)) throw new Error(`NATS user ${u.user} is listed twice`)
    seen.add(u.user)
    // Quoted: a bcrypt hash starts with `$`, which unquoted would read as a variable.
    const password = typeof u.password === 'string' ? quote(u.password) : `$${u.password.env}`
    return `    {\n      user: ${quote(u.user)}\n      password: ${password}\n      permissions: ${renderPermissions(u.permissions)}\n    }`
  })
  return `authorization {\n  users: [\n${users.join('\n')}\n  ]\n}\n`
}

/** The users we generate for a deployment: every service, and `setup`. */
export const NATS_GENERATED_USERS = [...NatsServices, 'setup'] as const

/** A password for each generated user, keeping the ones already in `existing`. */
export function natsServicePasswords (existing: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(NATS_GENERATED_USERS.map((user) => [user, existing[user] ?? newNatsPassword()]))
}

/** The generated users with their permissions for this topology, their passwords hashed. */
export async function natsServiceUsers (topology: NatsTopology, passwords: Record<string, string>): Promise<NatsUser[]> {
  return await Promise.all(NATS_GENERATED_USERS.map(async (user) => {
    const password = passwords[user]
    if (password === undefined) throw new Error(`no password for NATS user ${user}`)
    const permissions = user === 'setup' ? setupPermissions() : servicePermissions(user, topology)
    return { user, password: await hashNatsPassword(password), permissions }
  }))
}

/** The environment variable holding a generated user's password in docker-compose. */
export function natsPasswordVariable (user: string): string {
  return `NATS_${user.toUpperCase().replaceAll('-', '_')}_PASSWORD`
}

/**
 * The generated users with `$NATS_<USER>_PASSWORD` references instead of hashes, for a server
 * that reads its passwords from its environment (docker-compose: deploy/nats/users.json).
 */
export function natsServiceUsersFromEnv (topology: NatsTopology): NatsUser[] {
  return NATS_GENERATED_USERS.map((user) => ({
    user,
    password: { env: natsPasswordVariable(user) },
    permissions: user === 'setup' ? setupPermissions() : servicePermissions(user, topology)
  }))
}
