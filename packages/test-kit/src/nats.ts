import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { onTeardown, uniqueSuffix, type TestContext } from './context.js'

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

export interface NatsTestNames {
  /** A JetStream stream name of this test's own. */
  stream: string
  /** Subject prefix: the stream captures `<subjectPrefix>.>`. */
  subjectPrefix: string
  durable: string
}

/**
 * Names no other test uses, so tests share the one NATS server side by side; the stream is
 * deleted at teardown (whoever created it).
 */
export function natsTestNames (t: TestContext, label = 'x'): NatsTestNames {
  const suffix = uniqueSuffix()
  const names = { stream: `T_${label.toUpperCase()}_${suffix}`, subjectPrefix: `t${suffix}.${label}`, durable: `d_${label}_${suffix}` }
  onTeardown(t, async () => { await deleteStream(names.stream) })
  return names
}

/** The events-stream variables the services read, and the recorder's durable, for these names. */
export function eventsStreamEnv (names: NatsTestNames): { NATS_URL: string, EVENTS_STREAM: string, EVENTS_SUBJECT_PREFIX: string, RECORDER_DURABLE: string } {
  return { NATS_URL: TEST_NATS_URL, EVENTS_STREAM: names.stream, EVENTS_SUBJECT_PREFIX: names.subjectPrefix, RECORDER_DURABLE: names.durable }
}

/**
 * The stream variables of a whole system (events, orders in, integration out), each stream with
 * names of this test's own: what every service of an end-to-end test is started with.
 */
export function systemStreamsEnv (t: TestContext, tag: string): Record<string, string> {
  const orders = natsTestNames(t, `${tag}ord`)
  const integration = natsTestNames(t, `${tag}int`)
  return {
    ...eventsStreamEnv(natsTestNames(t, `${tag}ev`)),
    ORDERS_STREAM: orders.stream,
    ORDERS_SUBJECT_PREFIX: orders.subjectPrefix,
    ORDERS_DURABLE: orders.durable,
    INTEGRATION_STREAM: integration.stream,
    INTEGRATION_SUBJECT_PREFIX: `${tag}${integration.durable.slice(-10)}`
  }
}

async function deleteStream (name: string): Promise<void> {
  const nc = await connect({ servers: TEST_NATS_URL })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.delete(name).catch(() => false)
  } finally {
    await nc.close()
  }
}
