import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { inboxPrefixFor } from './auth.js'

export interface MessagingOptions {
  /** e.g. `nats://127.0.0.1:4222`; several, comma-separated, for a cluster. */
  servers: string
  /** Shown in the server's connection list. */
  name: string
  /** How long a JetStream API call (publish ack, stream info) may take. Default 5000 ms. */
  timeoutMs?: number
  /** Give up connecting at start-up after this long. Default 10000 ms. */
  connectTimeoutMs?: number
  /** This process's NATS user and password, where the server requires authentication. */
  user?: string
  pass?: string
}

export interface Messaging {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  /** Resolves when the server answers a round trip: for `/readyz`. */
  ping: () => Promise<number>
  /** Drain subscriptions and close. Safe to call twice. */
  close: () => Promise<void>
}

/**
 * Connect to NATS with JetStream. Reconnects forever with back-off once connected (publishes
 * wait or time out meanwhile); the first connection fails after `connectTimeoutMs`.
 */
export async function connectMessaging (options: MessagingOptions): Promise<Messaging> {
  const timeout = options.timeoutMs ?? 5000
  const nc = await connect({
    servers: options.servers.split(',').map((s) => s.trim()),
    name: options.name,
    timeout: options.connectTimeoutMs ?? 10_000,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    // Each request would otherwise build two Error objects (stack traces included) up front, in
    // case it fails: a tenth of a busy publisher's CPU. Our errors name the subject and event.
    noAsyncTraces: true,
    // A user may read only its own inbox (see natsAuthConfig): replies must arrive there.
    ...(options.user === undefined ? {} : { user: options.user, pass: options.pass ?? '', inboxPrefix: inboxPrefixFor(options.user) })
  })
  let jsm: JetStreamManager
  try {
    jsm = await jetstreamManager(nc, { timeout })
  } catch (error) {
    // Refused the JetStream API (permissions) or no JetStream: do not leave the socket open.
    await nc.close()
    throw error
  }
  const js = jetstream(nc, { timeout })
  let closing: Promise<void> | undefined
  return {
    nc,
    js,
    jsm,
    ping: async () => await nc.rtt(),
    close: async () => {
      closing ??= nc.isClosed() ? Promise.resolve() : nc.drain().catch(async () => { await nc.close() })
      await closing
    }
  }
}
