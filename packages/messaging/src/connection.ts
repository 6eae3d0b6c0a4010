import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { inboxPrefixFor } from './auth.js'
import { MessagingError, MessagingErrorCodes } from './errors.js'

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
  /** Connection losses and recoveries are logged here. */
  log?: { info: (obj: object, msg: string) => void, warn: (obj: object, msg: string) => void }
}

export interface Messaging {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  /**
   * Resolves when the server answers a round trip: for `/readyz`. Rejects at once while the
   * connection is down (reconnecting), naming since when, instead of waiting for a time-out.
   */
  ping: () => Promise<number>
  /** False from a disconnect until the client has reconnected. */
  connected: () => boolean
  /** Drain subscriptions and close. Safe to call twice. */
  close: () => Promise<void>
}

/** Reconnect delays: 250 ms doubling to 2 s, each with up to half again of jitter. */
export function reconnectDelay (attempt: number): number {
  const base = Math.min(2000, 250 * 2 ** Math.min(attempt, 3))
  return Math.round(base + Math.random() * base / 2)
}

/**
 * Connect to NATS with JetStream. Reconnects forever once connected, with bounded, jittered
 * back-off (`reconnectDelay`), resubscribing what was subscribed; publishes meanwhile wait in the
 * client's buffer or time out (the publisher retries a few times, then the caller gets
 * MSG_TIMEOUT). The first connection fails after `connectTimeoutMs`.
 */
export async function connectMessaging (options: MessagingOptions): Promise<Messaging> {
  const timeout = options.timeoutMs ?? 5000
  let attempts = 0
  const nc = await connect({
    servers: options.servers.split(',').map((s) => s.trim()),
    name: options.name,
    timeout: options.connectTimeoutMs ?? 10_000,
    reconnect: true,
    maxReconnectAttempts: -1,
    // Called before each reconnect attempt; reset once connected again.
    reconnectDelayHandler: () => reconnectDelay(attempts++),
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
  let downSince: Date | undefined
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' && downSince === undefined) {
        downSince = new Date()
        options.log?.warn({ server: status.server }, 'NATS connection lost; reconnecting')
      } else if (status.type === 'reconnect') {
        options.log?.info({ server: status.server, downMs: downSince === undefined ? 0 : Date.now() - downSince.getTime() }, 'NATS connection back')
        downSince = undefined
        attempts = 0
      }
    }
  })().catch(() => {})
  return {
    nc,
    js,
    jsm,
    connected: () => downSince === undefined && !nc.isClosed(),
    ping: async () => {
      if (nc.isClosed()) throw new MessagingError(MessagingErrorCodes.closed, 'NATS connection closed')
      if (downSince !== undefined) throw new MessagingError(MessagingErrorCodes.timeout, `NATS disconnected since ${downSince.toISOString()}; reconnecting`)
      return await nc.rtt()
    },
    close: async () => {
      closing ??= nc.isClosed() ? Promise.resolve() : nc.drain().catch(async () => { await nc.close() })
      await closing
    }
  }
}
