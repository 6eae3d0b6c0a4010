import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type ConsumerConfig, type ConsumerInfo, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import { MessagingError, MessagingErrorCodes } from './errors.js'

export interface StreamOptions {
  name: string
  subjects: string[]
  /** How long JetStream keeps messages: the window the event store must record within. */
  maxAgeMs: number
  /** Within this window a re-sent message id is answered as a duplicate. Default 2 minutes. */
  duplicateWindowMs?: number
  /** 1 on a single server, 3 on a production cluster (each publish acknowledged once replicated). */
  replicas?: number
  storage?: 'file' | 'memory'
}

// JetStream's code for 'stream name already in use with a different configuration'.
const STREAM_NAME_IN_USE = 10058
/** JetStream's "no suitable peers for placement": a cluster still forming has not heard of enough peers. */
const NO_SUITABLE_PEERS = 10005
/** How long a declaration waits for a forming cluster's peers before it fails. */
const PLACEMENT_WAIT_MS = 20_000

function isApiError (error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code
}

/**
 * Declare a stream idempotently: create it when missing, update what may change (subjects,
 * retention window, duplicate window), and leave it alone when it already matches.
 */
export async function ensureStream (jsm: JetStreamManager, options: StreamOptions): Promise<StreamInfo> {
  // A replicated stream declared while its cluster forms (all nodes just started, as compose and
  // the tests start them) is refused until the meta leader knows enough peers: wait for them,
  // bounded, with jittered back-off.
  const deadline = Date.now() + PLACEMENT_WAIT_MS
  for (let attempt = 0; ; attempt++) {
    try {
      return await declareStream(jsm, options)
    } catch (error) {
      if (!isApiError((error as { cause?: unknown }).cause, NO_SUITABLE_PEERS) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random())))
    }
  }
}

async function declareStream (jsm: JetStreamManager, options: StreamOptions): Promise<StreamInfo> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    name: options.name,
    subjects: options.subjects,
    retention: RetentionPolicy.Limits,
    storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    max_age: nanos(options.maxAgeMs),
    duplicate_window: nanos(Math.min(options.duplicateWindowMs ?? 120_000, options.maxAgeMs)),
    num_replicas: options.replicas ?? 1,
    allow_rollup_hdrs: false,
    deny_delete: true,
    deny_purge: false
  }
  let current: StreamInfo | undefined
  try {
    current = await jsm.streams.info(options.name)
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw wrap(error, `stream ${options.name}: info failed`)
  }
  try {
    if (current === undefined) return await jsm.streams.add(wanted)
    const c = current.config
    const same = c.max_age === wanted.max_age && c.duplicate_window === wanted.duplicate_window &&
      c.num_replicas === wanted.num_replicas && JSON.stringify([...c.subjects ?? []].sort()) === JSON.stringify([...options.subjects].sort())
    if (same) return current
    const { name: _name, storage: _storage, retention: _retention, ...changeable } = wanted
    return await jsm.streams.update(options.name, changeable)
  } catch (error) {
    // Two processes declaring at once: the loser finds the winner's stream.
    if (current === undefined && isApiError(error, STREAM_NAME_IN_USE)) return await jsm.streams.info(options.name)
    throw wrap(error, `stream ${options.name}: could not be declared`)
  }
}

export interface DurableConsumerOptions {
  stream: string
  durable: string
  filterSubject: string
  /** How long a delivered message may go unacknowledged before it is redelivered. Default 30 s. */
  ackWaitMs?: number
  /** After this many deliveries a message is no longer redelivered. Default unlimited (-1). */
  maxDeliver?: number
  maxAckPending?: number
  ackPolicy?: 'explicit' | 'all'
  /** Where a new consumer starts: all retained messages (default), new ones only, or a sequence. */
  startAt?: 'all' | 'new' | { sequence: number }
}

/**
 * Declare a durable pull consumer idempotently. Its start position only applies on creation;
 * to move an existing durable, use `resetConsumer`.
 */
export async function ensureConsumer (jsm: JetStreamManager, options: DurableConsumerOptions): Promise<ConsumerInfo> {
  const config = consumerConfig(options)
  try {
    const current = await jsm.consumers.info(options.stream, options.durable)
    const c = current.config
    if (c.filter_subject === config.filter_subject && c.ack_wait === config.ack_wait && c.max_deliver === config.max_deliver && c.max_ack_pending === config.max_ack_pending) return current
    return await jsm.consumers.update(options.stream, options.durable, {
      filter_subject: config.filter_subject, ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending
    })
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw wrap(error, `consumer ${options.durable}: could not be declared`)
  }
  try {
    return await jsm.consumers.add(options.stream, config)
  } catch (error) {
    throw wrap(error, `consumer ${options.durable}: could not be created`)
  }
}

/** Delete a durable (if present) and create it again at a new start position. */
export async function resetConsumer (jsm: JetStreamManager, options: DurableConsumerOptions): Promise<ConsumerInfo> {
  try {
    await jsm.consumers.delete(options.stream, options.durable)
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw wrap(error, `consumer ${options.durable}: could not be deleted`)
  }
  try {
    return await jsm.consumers.add(options.stream, consumerConfig(options))
  } catch (error) {
    throw wrap(error, `consumer ${options.durable}: could not be created`)
  }
}

function consumerConfig (options: DurableConsumerOptions): Partial<ConsumerConfig> & { durable_name: string } {
  const start = options.startAt ?? 'all'
  return {
    durable_name: options.durable,
    filter_subject: options.filterSubject,
    ack_policy: options.ackPolicy === 'all' ? AckPolicy.All : AckPolicy.Explicit,
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    max_deliver: options.maxDeliver ?? -1,
    max_ack_pending: options.maxAckPending ?? 1000,
    ...(start === 'all'
      ? { deliver_policy: DeliverPolicy.All }
      : start === 'new'
        ? { deliver_policy: DeliverPolicy.New }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.sequence })
  }
}

function wrap (error: unknown, message: string): MessagingError {
  const detail = error instanceof Error ? error.message : String(error)
  return new MessagingError(MessagingErrorCodes.config, `${message}: ${detail}`, { cause: error })
}
