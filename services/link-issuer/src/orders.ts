import { createHash } from 'node:crypto'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { JsMsg } from '@nats-io/jetstream'
import { orderStream, OrderSchema, type Order } from '@paylinks/contracts'
import { ack, ensureConsumer, ensureStream, nak, startConsumerLoop, type ConsumerLoop, type EventPublisher, type Messaging, type Outcome } from '@paylinks/messaging'
import type { Issuer } from './issuer.js'
import type { MerchantDirectory } from './dojo.js'
import { registry, uuidFrom } from './link.js'
import { LinkErrorCodes } from './errors.js'
import { checkLinkRequest } from './link-request.js'

const orderCheck = TypeCompiler.Compile(OrderSchema)

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface OrderIntakeOptions {
  messaging: Messaging
  publisher: EventPublisher
  issuer: Issuer
  merchants: MerchantDirectory
  emailAvailable: boolean
  stream: string
  subjectPrefix: string
  durable: string
  maxAgeMs: number
  /** Replicas of the ORDERS stream: 3 on a cluster (NATS_STREAM_REPLICAS). Default 1. */
  replicas?: number
  concurrency: number
  maxAttempts: number
  retryDelayMs: number
  /** Longer than the longest issue (Dojo time-outs and retries), so a live handler is not redelivered. */
  ackWaitMs: number
  log: Log
}

/** `order.<key>`: one stream per (merchant, order id), a single subject token. */
export function orderKey (merchantId: string, orderId: string): string {
  return createHash('sha256').update(`${merchantId}\u0000${orderId}`).digest('base64url').slice(0, 32)
}

/** Declare the ORDERS stream and its durable consumer (idempotent). */
export async function declareOrders (options: Pick<OrderIntakeOptions, 'messaging' | 'stream' | 'subjectPrefix' | 'durable' | 'maxAgeMs' | 'replicas' | 'ackWaitMs' | 'concurrency'>): Promise<void> {
  await ensureStream(options.messaging.jsm, { name: options.stream, subjects: [`${options.subjectPrefix}.v1.>`], maxAgeMs: options.maxAgeMs, replicas: options.replicas ?? 1 })
  await ensureConsumer(options.messaging.jsm, {
    stream: options.stream,
    durable: options.durable,
    filterSubject: `${options.subjectPrefix}.v1.>`,
    ackWaitMs: options.ackWaitMs,
    maxAckPending: Math.max(options.concurrency * 4, 64)
  })
}

/**
 * The order consumer: each order becomes a link (or a rejection), and is acked only once that
 * outcome is acknowledged by JetStream. Redelivery finds the same link (its id follows from the
 * reference, its requester from the order id), so it never makes a second intent.
 */
export async function startOrderIntake (options: OrderIntakeOptions): Promise<ConsumerLoop> {
  const { log } = options
  await declareOrders(options)

  async function reject (msg: JsMsg, orderId: string, merchantId: string | undefined, reason: string, problems: string[] = []): Promise<Outcome> {
    const key = merchantId === undefined ? `seq-${msg.seq}` : orderKey(merchantId, orderId)
    // The id follows from the message, so a redelivered rejection is recognised as the same event.
    const event = registry.create('order.rejected', {
      orderId: orderId.slice(0, 200),
      ...(merchantId === undefined ? {} : { merchantId: merchantId.slice(0, 100) }),
      reason: reason.slice(0, 2000),
      problems: problems.slice(0, 20).map((p) => p.slice(0, 500))
    }, { id: uuidFrom(`order.rejected\u0000${key}\u0000${reason}`), streamId: orderStream(key), metadata: { correlationId: `order:${merchantId ?? '-'}:${orderId}`.slice(0, 200), producer: 'link-issuer' } })
    await options.publisher.publish([event])
    log.info({ orderId, merchantId, reason, seq: msg.seq }, 'order rejected')
    return ack()
  }

  /**
   * The order failed its last attempt. One outcome per order: its link (if any) is failed on its
   * own stream first, on the state decided on. If the link was issued meanwhile (the sweep,
   * another replica) that wins and the order is not rejected; once failed, no sweep can issue it
   * after the rejection.
   */
  async function giveUp (msg: JsMsg, error: unknown): Promise<Outcome> {
    let orderId = `seq-${msg.seq}`
    let merchantId: string | undefined
    let reference: string | undefined
    try {
      const b = msg.json<{ orderId?: unknown, merchantId?: unknown, reference?: unknown }>()
      if (typeof b.orderId === 'string' && b.orderId !== '') orderId = b.orderId
      if (typeof b.merchantId === 'string') merchantId = b.merchantId
      if (typeof b.reference === 'string' && b.reference !== '') reference = b.reference
    } catch {}
    const reason = `gave up after ${msg.info.deliveryCount} attempts: ${error instanceof Error ? error.message : String(error)}`
    if (merchantId !== undefined) {
      const link = await options.issuer.abandonOrder(merchantId, orderId, reference ?? orderId, reason)
      if (link !== undefined && link.status !== 'failed') {
        log.info({ orderId, merchantId, linkId: link.linkId, status: link.status }, 'order given up, but its link has its outcome already: not rejected')
        return ack()
      }
    }
    return await reject(msg, orderId, merchantId, reason)
  }

  async function handle (msg: JsMsg): Promise<Outcome> {
    const subjectMerchant = msg.subject.slice(`${options.subjectPrefix}.v1.`.length)
    let body: unknown
    try {
      body = msg.json()
    } catch {
      return await reject(msg, `seq-${msg.seq}`, undefined, 'the message is not JSON')
    }
    const rawId = (body as { orderId?: unknown } | null)?.orderId
    const orderId = typeof rawId === 'string' && rawId !== '' ? rawId : `seq-${msg.seq}`
    if (!orderCheck.Check(body)) {
      const problems = [...orderCheck.Errors(body)].slice(0, 20).map((e) => `${e.path === '' ? '/' : e.path}: ${e.message}`)
      return await reject(msg, orderId, typeof rawId === 'string' ? subjectMerchant : undefined, 'the order does not match the Order schema', problems)
    }
    const order: Order = body
    if (order.merchantId !== subjectMerchant) {
      return await reject(msg, order.orderId, subjectMerchant, `the order is for ${order.merchantId} but was published on the subject of ${subjectMerchant}`)
    }
    const merchant = await options.merchants.get(order.merchantId)
    if (merchant === undefined) return await reject(msg, order.orderId, order.merchantId, `unknown merchant ${order.merchantId}`)
    const sendEmail = order.sendEmail ?? false
    const problem = checkLinkRequest({ ...order, sendEmail }, { emailAvailable: options.emailAvailable })
    if (problem !== undefined) {
      return problem.path === undefined
        ? await reject(msg, order.orderId, order.merchantId, problem.message)
        : await reject(msg, order.orderId, order.merchantId, `${problem.path.slice(1)} ${problem.message}`, [`${problem.path}: ${problem.message}`])
    }
    try {
      await options.issuer.request({
        merchant,
        reference: order.reference ?? order.orderId,
        amount: order.amount,
        ...(order.description === undefined ? {} : { description: order.description }),
        ...(order.customer === undefined ? {} : { customer: order.customer }),
        ...(order.expiresAt === undefined ? {} : { expiresAt: order.expiresAt }),
        ...(order.redirectUrl === undefined ? {} : { redirectUrl: order.redirectUrl }),
        ...(order.metadata === undefined ? {} : { metadata: order.metadata }),
        sendEmail,
        source: 'order',
        orderId: order.orderId,
        causationId: `order:${order.orderId}`,
        correlationId: `order:${order.merchantId}:${order.orderId}`.slice(0, 200)
      })
      return ack()
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === LinkErrorCodes.referenceTaken || code === LinkErrorCodes.orderTaken) return await reject(msg, order.orderId, order.merchantId, (error as Error).message)
      if (code === LinkErrorCodes.dojoUnavailable || code === LinkErrorCodes.inProgress || code === LinkErrorCodes.contention || code === LinkErrorCodes.notRecorded) {
        log.warn({ orderId: order.orderId, code, attempt: msg.info.deliveryCount }, 'order not settled yet; redelivery scheduled')
        // Settled here with an ack rather than left to the loop's term: nats-server 2.9 ignores a
        // `+TERM` that carries a reason, so such a message would come back after every ack wait.
        if (msg.info.deliveryCount >= options.maxAttempts) return await giveUp(msg, error)
        return nak(options.retryDelayMs * 2 ** Math.min(msg.info.deliveryCount - 1, 6))
      }
      throw error
    }
  }

  const consumer = await options.messaging.js.consumers.get(options.stream, options.durable)
  const loop = await startConsumerLoop({
    consumer,
    handler: handle,
    name: `process ${options.stream}`,
    concurrency: options.concurrency,
    maxAttempts: options.maxAttempts,
    retryBaseDelayMs: options.retryDelayMs,
    log,
    // A deleted ORDERS consumer (an operator, a lost stream) is declared again and pulled from.
    redeclare: async () => { await declareOrders(options) },
    onGiveUp: async (msg, error) => { await giveUp(msg, error) }
  })
  log.info({ stream: options.stream, durable: options.durable }, 'taking orders')
  return loop
}
