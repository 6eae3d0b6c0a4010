import { Counter, Histogram, type Registry } from 'prom-client'
import { signWebhook } from './signature.js'
import type { WebhookPayload } from './schemas.js'

export type FaultMode = 'none' | 'duplicate' | 'delay' | 'reorder' | 'drop'

export interface Fault { mode: FaultMode, delayMs: number }

export interface DeliveryAttempt {
  attempt: number
  startedAt: string
  latencyMs: number
  statusCode?: number
  error?: string
  outcome: 'success' | 'failure'
}

export interface Delivery {
  id: string
  subscriptionId: string
  eventId: string
  event: string
  paymentIntentId: string
  paymentStatus: string
  status: 'pending' | 'delivered' | 'failed' | 'dropped'
  fault: FaultMode
  attempts: DeliveryAttempt[]
  createdAt: string
}

/** Where and how to sign, looked up at each attempt so rotation and deletion apply to retries. */
export type ResolveTarget = (subscriptionId: string) => { url: string, secret: string } | undefined

/** Told of every new delivery and every change to one (attempt, outcome), with its exact bytes. */
export type PersistDelivery = (delivery: Delivery, body: string) => void

const LOG_LIMIT = 1000

/**
 * Sends webhook bodies with retries. Each attempt has its own timeout; a non-2xx, a network
 * error or a timeout is retried after the next delay of the schedule, until it runs out.
 * Faults are per subscription and exist to exercise receivers' idempotency and ordering.
 */
export class WebhookDispatcher {
  readonly #retryDelaysMs: number[]
  readonly #timeoutMs: number
  readonly #resolve: ResolveTarget
  readonly #persist: PersistDelivery | undefined
  /** The bytes of each logged delivery, kept only when persisting (a restart sends them again). */
  readonly #bodies = new Map<string, string>()
  readonly #log = new Map<string, Delivery[]>()
  readonly #faults = new Map<string, Fault>()
  readonly #held = new Map<string, { delivery: Delivery, body: string, timer: NodeJS.Timeout }>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #inFlight = new Set<AbortController>()
  #pending = 0
  #idleWaiters: Array<() => void> = []
  #closed = false
  #seq = 0
  readonly #attempts: Counter<'outcome'> | undefined
  readonly #latency: Histogram<'outcome'> | undefined

  constructor (options: { retryDelaysMs: number[], timeoutMs: number, resolve: ResolveTarget, persist?: PersistDelivery, registry?: Registry }) {
    this.#retryDelaysMs = options.retryDelaysMs
    this.#timeoutMs = options.timeoutMs
    this.#resolve = options.resolve
    this.#persist = options.persist
    if (options.registry !== undefined) {
      this.#attempts = new Counter({ name: 'dojo_sandbox_webhook_attempts_total', help: 'Webhook delivery attempts by outcome.', labelNames: ['outcome'] as const, registers: [options.registry] })
      this.#latency = new Histogram({ name: 'dojo_sandbox_webhook_attempt_seconds', help: 'Webhook attempt latency.', labelNames: ['outcome'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [options.registry] })
    }
  }

  setFault (subscriptionId: string, fault: Fault): void {
    if (fault.mode === 'none') this.#faults.delete(subscriptionId)
    else this.#faults.set(subscriptionId, fault)
  }

  fault (subscriptionId: string): Fault {
    return this.#faults.get(subscriptionId) ?? { mode: 'none', delayMs: 0 }
  }

  deliveries (subscriptionId: string): Delivery[] {
    return this.#log.get(subscriptionId) ?? []
  }

  /** The log with each delivery's bytes (only kept when persisting). */
  deliveriesWithBodies (subscriptionId: string): Array<{ delivery: Delivery, body: string }> {
    return this.deliveries(subscriptionId).flatMap((delivery) => {
      const body = this.#bodies.get(delivery.id)
      return body === undefined ? [] : [{ delivery, body }]
    })
  }

  /** The logs a previous process left, in order; `resume` sends what was still pending. */
  restore (deliveries: Array<{ delivery: Delivery, body: string }>): void {
    const sorted = [...deliveries].sort((a, b) => Number.parseInt(a.delivery.id.slice(4), 36) - Number.parseInt(b.delivery.id.slice(4), 36))
    for (const { delivery, body } of sorted) {
      let log = this.#log.get(delivery.subscriptionId)
      if (log === undefined) { log = []; this.#log.set(delivery.subscriptionId, log) }
      log.push(delivery)
      this.#bodies.set(delivery.id, body)
      this.#seq = Math.max(this.#seq, Number.parseInt(delivery.id.slice(4), 36))
    }
  }

  /**
   * Attempt every restored delivery still pending, now, as the attempt after the last one made
   * (the same event id and bytes: at least once, as ever).
   */
  resume (): void {
    for (const log of this.#log.values()) {
      for (const delivery of log) {
        const body = this.#bodies.get(delivery.id)
        if (delivery.status !== 'pending' || body === undefined) continue
        this.#pending++
        this.#attempt(delivery, body, Math.min(delivery.attempts.length, this.#retryDelaysMs.length))
      }
    }
  }

  forget (subscriptionId: string): void {
    for (const delivery of this.#log.get(subscriptionId) ?? []) this.#bodies.delete(delivery.id)
    this.#log.delete(subscriptionId)
    this.#faults.delete(subscriptionId)
  }

  /** Resolves when no delivery is pending (all delivered, failed or dropped). */
  async idle (): Promise<void> {
    if (this.#pending === 0) return
    await new Promise<void>((resolve) => { this.#idleWaiters.push(resolve) })
  }

  enqueue (subscriptionId: string, payload: WebhookPayload): void {
    if (this.#closed) return
    // Serialised once: the signature covers exactly these bytes, on every attempt.
    const body = JSON.stringify(payload)
    const fault = this.fault(subscriptionId)
    const copies = fault.mode === 'duplicate' ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delivery = this.#record(subscriptionId, payload, fault.mode, body)
      if (fault.mode === 'drop') delivery.status = 'dropped'
      this.#persist?.(delivery, body)
      if (fault.mode === 'drop') continue
      this.#pending++
      if (fault.mode === 'delay') this.#later(fault.delayMs, () => { this.#attempt(delivery, body, 0) })
      else if (fault.mode === 'reorder') this.#reorder(subscriptionId, delivery, body, fault.delayMs)
      else this.#attempt(delivery, body, 0)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const timer of this.#timers) clearTimeout(timer)
    for (const held of this.#held.values()) clearTimeout(held.timer)
    this.#timers.clear()
    this.#held.clear()
    for (const controller of this.#inFlight) controller.abort()
    this.#pending = 0
    this.#settle()
  }

  // Hold one delivery back; the next one overtakes it. Flushed after delayMs if none comes.
  #reorder (subscriptionId: string, delivery: Delivery, body: string, delayMs: number): void {
    const held = this.#held.get(subscriptionId)
    if (held === undefined) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        this.#held.delete(subscriptionId)
        this.#attempt(delivery, body, 0)
      }, Math.max(delayMs, 1))
      this.#timers.add(timer)
      this.#held.set(subscriptionId, { delivery, body, timer })
      return
    }
    clearTimeout(held.timer)
    this.#timers.delete(held.timer)
    this.#held.delete(subscriptionId)
    this.#attempt(delivery, body, 0)
    this.#attempt(held.delivery, held.body, 0)
  }

  #record (subscriptionId: string, payload: WebhookPayload, fault: FaultMode, body: string): Delivery {
    const delivery: Delivery = {
      id: `dlv_${(++this.#seq).toString(36)}`,
      subscriptionId,
      eventId: payload.id,
      event: payload.event,
      paymentIntentId: payload.data.paymentIntentId,
      paymentStatus: payload.data.paymentStatus,
      status: 'pending',
      fault,
      attempts: [],
      createdAt: new Date().toISOString()
    }
    let log = this.#log.get(subscriptionId)
    if (log === undefined) { log = []; this.#log.set(subscriptionId, log) }
    log.push(delivery)
    if (this.#persist !== undefined) this.#bodies.set(delivery.id, body)
    if (log.length > LOG_LIMIT) for (const gone of log.splice(0, log.length - LOG_LIMIT)) this.#bodies.delete(gone.id)
    return delivery
  }

  #later (ms: number, fn: () => void): void {
    const timer = setTimeout(() => { this.#timers.delete(timer); fn() }, ms)
    this.#timers.add(timer)
  }

  #attempt (delivery: Delivery, body: string, index: number): void {
    if (this.#closed) return
    const target = this.#resolve(delivery.subscriptionId)
    if (target === undefined) { this.#finish(delivery, 'failed', body); return }
    const controller = new AbortController()
    this.#inFlight.add(controller)
    const startedAt = new Date()
    const started = performance.now()
    const record = (outcome: 'success' | 'failure', detail: { statusCode?: number, error?: string }): void => {
      const latencyMs = Math.round((performance.now() - started) * 100) / 100
      delivery.attempts.push({ attempt: index + 1, startedAt: startedAt.toISOString(), latencyMs, outcome, ...detail })
      if (outcome === 'failure' && index < this.#retryDelaysMs.length) this.#persist?.(delivery, body)
      this.#attempts?.inc({ outcome })
      this.#latency?.observe({ outcome }, latencyMs / 1000)
    }
    fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'dojo-signature': signWebhook(body, target.secret), 'user-agent': 'dojo-sandbox-webhooks' },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([controller.signal, AbortSignal.timeout(this.#timeoutMs)])
    }).then(async (response) => {
      // Drain the body so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined)
      const ok = response.status >= 200 && response.status < 300
      record(ok ? 'success' : 'failure', { statusCode: response.status })
      return ok
    }, (error: unknown) => {
      // Aborted by close(): not an attempt the receiver failed; a restart sends it again.
      if (this.#closed) return false
      const name = error instanceof Error ? error.name : ''
      record('failure', { error: name === 'TimeoutError' ? `timed out after ${this.#timeoutMs} ms` : error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error) })
      return false
    }).then((ok) => {
      this.#inFlight.delete(controller)
      if (this.#closed) return
      if (ok) this.#finish(delivery, 'delivered', body)
      else if (index < this.#retryDelaysMs.length) this.#later(this.#retryDelaysMs[index]!, () => { this.#attempt(delivery, body, index + 1) })
      else this.#finish(delivery, 'failed', body)
    }, () => undefined)
  }

  #finish (delivery: Delivery, status: 'delivered' | 'failed', body: string): void {
    delivery.status = status
    this.#persist?.(delivery, body)
    this.#pending--
    this.#settle()
  }

  #settle (): void {
    if (this.#pending > 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
