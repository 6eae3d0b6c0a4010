import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto'
import type { Registry } from 'prom-client'
import { decodeCursor as decodeKey, encodeCursor as encodeKey } from '@paylinks/service-kit'
import { CHALLENGE_CODE, cardOutcome, maskCard, type CardInput, type MaskedCard } from './cards.js'
import type { SandboxOptions } from './config.js'
import { conflict, notFound, validationError } from './errors.js'
import { ID_PREFIX, newId } from './ids.js'
import { TIMESPAN } from './schemas.js'
import type {
  CaptureDetails, CaptureMode, CreatePaymentIntentRequest, CreateRefundRequest, Money, PaymentDetails, PaymentEvent,
  PaymentIntentStatus, PaymentIntentView, Refund, SearchPaymentIntentRequest, WebhookEventName
} from './schemas.js'
import { StateFile, type StateRecord } from './state-file.js'
import { WebhookDispatcher, type Delivery, type Fault } from './webhooks.js'

export interface Intent {
  id: string
  seq: number
  accountKey: string
  accountId: string
  status: PaymentIntentStatus
  request: CreatePaymentIntentRequest
  captureMode: CaptureMode
  createdAt: Date
  updatedAt: Date
  expireAt: Date
  clientSessionSecret: string
  clientSessionSecretExpirationDate: Date
  paymentEvents: PaymentEvent[]
  paymentDetails?: PaymentDetails
  captures: CaptureDetails[]
  capturedAmount: number
  refundedAmount: number
  refunds: Map<string, Refund>
  /** When a Manual intent with `autoExpireIn` was authorised: its auto action is due that long after. */
  authorizedAt?: Date
  /** Addresses receipts were asked for (POST …/receipt); the sandbox sends no e-mail. */
  receipts: string[][]
  challenge?: { token: string, card: MaskedCard }
}

export interface Secret { id: string, value: string, isActive: boolean, createdAt: Date, lastUsedAt?: Date }

export interface Subscription {
  id: string
  accountKey: string
  accountId: string
  events: string[]
  url: string
  description?: string
  secrets: Secret[]
  createdAt: Date
  updatedAt: Date
}

/** A merchant account: one per secret key, known here only by the key's SHA-256 (`key`). */
export interface Account { key: string, id: string, tradingName: string, intents: Map<string, Intent>, subscriptions: Map<string, Subscription> }

export type PaymentOutcome =
  | { outcome: 'Authorized' | 'Captured' }
  | { outcome: 'Declined' }
  | { outcome: 'ChallengeRequired', challengeToken: string }

/** How long after authorisation a Manual payment can be reversed (and is, if left uncaptured). */
const REVERSAL_WINDOW_MS = 7 * 86_400_000

// Which status may follow which. Everything else is a 409.
const MOVES: Record<PaymentIntentStatus, PaymentIntentStatus[]> = {
  Created: ['Authorized', 'Captured', 'Canceled'],
  Authorized: ['Captured', 'Reversed'],
  Captured: ['Captured', 'Refunded', 'Reversed'],
  Refunded: [],
  Reversed: [],
  Canceled: []
}

/**
 * The emulated Dojo account state: one account per secret key, intents visible only to the key
 * that created them, and every status change sent to the account's subscriptions. In memory,
 * and with `stateDir` also on disk (see StateFile): every change is written before `flush()`
 * returns, which the app calls before each response, so a restart loses nothing acknowledged.
 */
export class Sandbox {
  readonly options: SandboxOptions
  readonly webhooks: WebhookDispatcher
  readonly #accounts = new Map<string, Account>()
  readonly #intents = new Map<string, Intent>()
  readonly #subscriptions = new Map<string, Subscription>()
  #seq = 0
  #sweeper: NodeJS.Timeout | undefined
  /** How far the sandbox's clock runs ahead of the real one (the `/sandbox/clock` control). */
  #clockOffsetMs = 0
  readonly #state: StateFile | undefined
  /** What changed since the last flush, by kind:id, turned into records only when written. */
  readonly #dirty = new Map<string, () => StateRecord>()
  #closed = false

  constructor (options: SandboxOptions, registry?: Registry) {
    this.options = options
    this.#state = options.stateDir === undefined || options.stateDir === '' ? undefined : new StateFile(options.stateDir)
    this.webhooks = new WebhookDispatcher({
      retryDelaysMs: options.retryDelaysMs,
      timeoutMs: options.webhookTimeoutMs,
      resolve: (id) => this.#target(id),
      ...(this.#state === undefined ? {} : { persist: (delivery: Delivery, body: string) => { this.#markDelivery(delivery, body); this.flush() } }),
      ...(registry === undefined ? {} : { registry })
    })
    if (this.#state !== undefined) this.#restore(this.#state)
    this.#sweeper = setInterval(() => { this.expireDue(); this.flush() }, options.expirySweepMs)
    this.#sweeper.unref()
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    await this.webhooks.close()
    this.flush()
    this.#state?.close()
    this.#closed = true
  }

  /** Write every change since the last flush to the state file (nothing without `stateDir`). */
  flush (): void {
    const state = this.#state
    if (state === undefined || this.#closed || this.#dirty.size === 0) return
    const records = [...this.#dirty.values()].map((make) => make())
    this.#dirty.clear()
    state.append(records)
    if (state.wantsCompaction(this.#intents.size + this.#subscriptions.size + this.#accounts.size)) state.compact(this.#snapshot())
  }

  /** The sandbox's time: every rule with a deadline (expiry, auto-expiry, reversal windows) reads it. */
  now (): Date {
    return new Date(Date.now() + this.#clockOffsetMs)
  }

  /** Sandbox control: move the clock forward, then run what fell due. Returns the new time. */
  advanceClock (ms: number): Date {
    this.#clockOffsetMs += ms
    this.#mark('clock:clock', () => ({ kind: 'clock', id: 'clock', value: this.#clockOffsetMs }))
    this.expireDue()
    return this.now()
  }

  /** The account of a secret key, made (with the default trading name) on first use, as every sandbox key works. */
  account (key: string): Account {
    const hash = keyHash(key)
    let account = this.#accounts.get(hash)
    if (account === undefined) {
      account = { key: hash, id: newId(ID_PREFIX.account), tradingName: this.options.merchantName, intents: new Map(), subscriptions: new Map() }
      this.#accounts.set(hash, account)
      this.#markAccount(account)
    }
    return account
  }

  /** Sandbox control: set up the account of a key (its trading name), as Dojo's onboarding would. */
  configureAccount (key: string, settings: { tradingName?: string | undefined }): Account {
    const account = this.account(key)
    if (settings.tradingName !== undefined) account.tradingName = settings.tradingName
    this.#markAccount(account)
    return account
  }

  /** The trading name of the account an intent belongs to: on the checkout page and in `config.tradingName`. */
  tradingName (intent: Intent): string {
    return this.#accounts.get(intent.accountKey)?.tradingName ?? this.options.merchantName
  }

  // Payment intents

  createIntent (key: string, request: CreatePaymentIntentRequest): Intent {
    const account = this.account(key)
    const now = this.now()
    const expireAt = request.expireAt == null ? new Date(now.getTime() + this.options.intentExpiryMs) : new Date(request.expireAt)
    if (Number.isNaN(expireAt.getTime())) throw validationError('ExpireAt', 'The ExpireAt field is not a valid date-time.')
    if (!isCurrency(request.amount.currencyCode)) throw validationError('Amount.CurrencyCode', `The currency code '${request.amount.currencyCode}' is not supported.`)
    if (request.autoExpireIn != null) {
      const ms = timespanMs(request.autoExpireIn)
      if (ms === undefined || ms <= 30_000 || ms >= 7 * 86_400_000) throw validationError('AutoExpireIn', 'The AutoExpireIn must be more than 30 seconds and less than 7 days (dd.hh:MM:ss).')
      if ((request.captureMode ?? 'Auto') !== 'Manual') throw validationError('AutoExpireIn', 'The AutoExpireIn applies only to a Manual capture mode payment intent.')
    }
    const intent: Intent = {
      id: newId(ID_PREFIX.paymentIntent),
      seq: ++this.#seq,
      accountKey: account.key,
      accountId: account.id,
      status: 'Created',
      request,
      captureMode: request.captureMode ?? 'Auto',
      createdAt: now,
      updatedAt: now,
      expireAt,
      ...newSessionSecret(now),
      paymentEvents: [],
      captures: [],
      capturedAmount: 0,
      refundedAmount: 0,
      refunds: new Map(),
      receipts: []
    }
    account.intents.set(intent.id, intent)
    this.#intents.set(intent.id, intent)
    this.#markIntent(intent)
    this.#emit(intent, 'payment_intent.created')
    return intent
  }

  /** An intent of this key; a canceled one only when asked for. */
  getIntent (key: string, id: string, options: { returnCanceled?: boolean } = {}): Intent {
    const intent = this.account(key).intents.get(id)
    if (intent === undefined) throw notFound('Payment intent')
    if (!this.#expireIfDue(intent)) this.#autoExpireIfDue(intent)
    if (intent.status === 'Canceled' && options.returnCanceled !== true) throw notFound('Payment intent')
    return intent
  }

  /** Any intent by id: the checkout page and the sandbox controls are not tied to a key. */
  findIntent (id: string): Intent | undefined {
    const intent = this.#intents.get(id)
    if (intent !== undefined && !this.#expireIfDue(intent)) this.#autoExpireIfDue(intent)
    return intent
  }

  cancel (key: string, id: string): Intent {
    const intent = this.getIntent(key, id)
    this.#move(intent, 'Canceled', 'it can only be canceled while Created')
    return intent
  }

  capture (key: string, id: string, amount: number): { message: string, captureId: string } {
    const intent = this.getIntent(key, id)
    if (intent.captureMode !== 'Manual') throw conflict(`Payment intent ${intent.id} is captured automatically.`)
    if (intent.status !== 'Authorized' && intent.status !== 'Captured') throw conflict(`Payment intent ${intent.id} is ${intent.status}: it cannot be captured.`)
    if (intent.refundedAmount > 0) throw conflict(`Payment intent ${intent.id} has refunds: it cannot be captured.`)
    const remaining = totalAmount(intent).value - intent.capturedAmount
    if (remaining <= 0) throw conflict(`Payment intent ${intent.id} is already fully captured.`)
    if (amount > remaining) throw validationError('Amount', `The Amount must not exceed the uncaptured amount (${remaining}).`)
    const capture: CaptureDetails = { id: newId(ID_PREFIX.capture), amount, status: 'Successful', createdAt: this.now().toISOString() }
    intent.captures.push(capture)
    intent.capturedAmount += amount
    this.#event(intent, 'Captured', intent.paymentDetails?.authCode ?? '')
    this.#move(intent, 'Captured', '')
    return { message: 'Capture successful', captureId: capture.id }
  }

  refund (key: string, id: string, idempotencyKey: string, request: CreateRefundRequest): Refund {
    const intent = this.getIntent(key, id)
    // The same key on the same intent replays the first answer, whatever the body.
    const replay = intent.refunds.get(idempotencyKey)
    if (replay !== undefined) return replay
    if (intent.status !== 'Captured') throw conflict(`Payment intent ${intent.id} is ${intent.status}: only a Captured payment can be refunded.`)
    const refundable = intent.capturedAmount - intent.refundedAmount
    if (request.amount > refundable) throw validationError('Amount', `The Amount must not exceed the refundable amount (${refundable}).`)
    const refund: Refund = {
      paymentIntentId: intent.id,
      refundId: newId(ID_PREFIX.refund),
      ...(request.refundReason == null ? {} : { refundReason: request.refundReason }),
      ...(request.notes == null ? {} : { notes: request.notes })
    }
    intent.refunds.set(idempotencyKey, refund)
    intent.refundedAmount += request.amount
    this.#markIntent(intent)
    this.#event(intent, 'Refunded', '')
    // Partial refunds keep the payment Captured; the last one makes it Refunded.
    this.#move(intent, intent.refundedAmount === intent.capturedAmount ? 'Refunded' : 'Captured', '')
    return refund
  }

  /** A refund of this key's account by its id (GET /payment-intents/refunds/{refundId}). */
  getRefund (key: string, refundId: string): Refund {
    for (const intent of this.account(key).intents.values()) {
      for (const refund of intent.refunds.values()) if (refund.refundId === refundId) return refund
    }
    throw notFound('Refund')
  }

  /** Record a receipt request (POST …/receipt): a payment must have been taken. */
  sendReceipt (key: string, id: string, emails: string[]): void {
    const intent = this.getIntent(key, id, { returnCanceled: true })
    if (intent.paymentDetails === undefined) throw conflict(`Payment intent ${intent.id} is ${intent.status}: there is no payment to send a receipt for.`)
    if (emails.length === 0) throw validationError('Emails', 'The Emails field must list at least one address.')
    intent.receipts.push([...emails])
    this.#markIntent(intent)
  }

  /**
   * Dojo's reversal rules: an Auto payment while `Captured`, on the calendar day it was taken; a
   * Manual one while `Authorized`, within 7 days of the authorisation. A Manual payment once
   * captured can only be refunded, and so can any payment past its window or with refunds.
   */
  reverse (key: string, id: string): { message: string, reversalId: string } {
    const intent = this.getIntent(key, id)
    if (intent.refundedAmount > 0) throw conflict(`Payment intent ${intent.id} has refunds: it cannot be reversed.`)
    const now = this.now()
    if (intent.captureMode === 'Manual' && intent.status === 'Captured') {
      throw conflict(`Payment intent ${intent.id} was captured in Manual capture mode: it can only be refunded.`)
    }
    if (intent.captureMode === 'Manual' && intent.status === 'Authorized' && intent.authorizedAt !== undefined && now.getTime() - intent.authorizedAt.getTime() > REVERSAL_WINDOW_MS) {
      throw conflict(`Payment intent ${intent.id} was authorised more than 7 days ago: it can no longer be reversed.`)
    }
    const takenAt = intent.paymentDetails?.transactionDateTime
    if (intent.captureMode === 'Auto' && intent.status === 'Captured' && takenAt !== undefined && takenAt.slice(0, 10) !== now.toISOString().slice(0, 10)) {
      throw conflict(`Payment intent ${intent.id} was paid on ${takenAt.slice(0, 10)}: it can only be reversed on that day, and refunded after.`)
    }
    this.#move(intent, 'Reversed', 'only an Authorized or Captured payment can be reversed')
    this.#event(intent, 'Reversed', '')
    return { message: 'Reversal successful', reversalId: newId(ID_PREFIX.reversal) }
  }

  refreshSessionSecret (key: string, id: string): Intent {
    const intent = this.getIntent(key, id)
    Object.assign(intent, newSessionSecret(this.now()))
    intent.updatedAt = this.now()
    this.#markIntent(intent)
    return intent
  }

  search (key: string, query: SearchPaymentIntentRequest): { data: Intent[], before: string | null, after: string | null } {
    const limit = query.cursor?.limit ?? 50
    const before = query.cursor?.before ?? null
    const after = query.cursor?.after ?? null
    if (before !== null && after !== null) throw validationError('Cursor', 'Only one of Cursor.Before and Cursor.After may be given.')
    const start = query.startDate == null ? -Infinity : Date.parse(query.startDate)
    const end = query.endDate == null ? Infinity : Date.parse(query.endDate)
    const statuses = query.statuses == null || query.statuses.length === 0 ? undefined : new Set(query.statuses)
    // Newest first; the cursor is the position (creation order) of an edge item.
    const all = [...this.account(key).intents.values()]
      .filter((i) => { this.#expireIfDue(i); return true })
      .filter((i) => (statuses === undefined || statuses.has(i.status)) && i.createdAt.getTime() >= start && i.createdAt.getTime() <= end)
      .sort((a, b) => b.seq - a.seq)
    let page: Intent[]
    let moreOlder: boolean
    let moreNewer: boolean
    if (before !== null) {
      const pivot = decodeCursor(before, 'Cursor.Before')
      const newer = all.filter((i) => i.seq > pivot)
      page = newer.slice(Math.max(0, newer.length - limit))
      moreNewer = newer.length > limit
      moreOlder = all.some((i) => i.seq <= pivot)
    } else {
      const pivot = after === null ? Infinity : decodeCursor(after, 'Cursor.After')
      const older = all.filter((i) => i.seq < pivot)
      page = older.slice(0, limit)
      moreOlder = older.length > limit
      moreNewer = all.some((i) => i.seq >= pivot)
    }
    return {
      data: page,
      before: moreNewer && page.length > 0 ? encodeCursor(page[0]!.seq) : null,
      after: moreOlder && page.length > 0 ? encodeCursor(page[page.length - 1]!.seq) : null
    }
  }

  // Paying: the checkout page and the sandbox control share these rules.

  /** Try a card on an intent; the card itself is forgotten when this returns. */
  pay (intent: Intent, card: CardInput, challengeCode?: string): PaymentOutcome {
    this.#assertPayable(intent)
    const masked = maskCard(card)
    const outcome = cardOutcome(card)
    if (outcome === 'declined') return this.#decline(intent, masked)
    if (outcome === 'challenge') {
      const token = randomBytes(16).toString('base64url')
      intent.challenge = { token, card: masked }
      this.#event(intent, 'AuthChallenged', '', masked)
      if (challengeCode === undefined) return { outcome: 'ChallengeRequired', challengeToken: token }
      return this.completeChallenge(intent, token, challengeCode)
    }
    return this.#authorise(intent, masked)
  }

  /** The answer to a 3-D Secure challenge: the right code authorises, anything else declines. */
  completeChallenge (intent: Intent, token: string, code: string): PaymentOutcome {
    this.#assertPayable(intent)
    const challenge = intent.challenge
    if (challenge === undefined || challenge.token !== token) throw conflict('No 3-D Secure challenge is pending for this payment.')
    delete intent.challenge
    if (code.trim() !== CHALLENGE_CODE) return this.#decline(intent, challenge.card)
    return this.#authorise(intent, challenge.card)
  }

  /** Void intents still unpaid at expireAt, and run due `autoExpireAction`s; returns how many. */
  expireDue (): number {
    let count = 0
    for (const intent of this.#intents.values()) if (this.#expireIfDue(intent) || this.#autoExpireIfDue(intent)) count++
    return count
  }

  /** Sandbox control: make an intent expire now. */
  forceExpire (intent: Intent): Intent {
    if (intent.status !== 'Created') throw conflict(`Payment intent ${intent.id} is ${intent.status}: only an unpaid intent expires.`)
    intent.expireAt = this.now()
    this.#expireIfDue(intent)
    return intent
  }

  isExpired (intent: Intent): boolean {
    return intent.expireAt.getTime() <= this.now().getTime()
  }

  view (intent: Intent): PaymentIntentView {
    const r = intent.request
    const config = r.config ?? {}
    return {
      id: intent.id,
      captureMode: intent.captureMode,
      cardHolderNotPresent: r.cardHolderNotPresent ?? false,
      clientSessionSecret: intent.clientSessionSecret,
      clientSessionSecretExpirationDate: intent.clientSessionSecretExpirationDate.toISOString(),
      ...(intent.paymentDetails === undefined ? {} : { paymentDetails: intent.paymentDetails }),
      status: intent.status,
      paymentMethods: r.paymentMethods ?? ['Card'],
      amount: r.amount,
      ...(r.tipsAmount == null ? {} : { tipsAmount: r.tipsAmount }),
      totalAmount: totalAmount(intent),
      refundedAmount: intent.refundedAmount,
      ...(r.customer == null ? {} : { customer: customerView(r.customer) }),
      ...(r.requestSecurity == null ? {} : { requestSecurity: r.requestSecurity }),
      ...(r.billingAddress == null ? {} : { billingAddress: r.billingAddress }),
      ...(r.shippingDetails == null ? {} : { shippingDetails: r.shippingDetails }),
      createdAt: intent.createdAt.toISOString(),
      updatedAt: intent.updatedAt.toISOString(),
      reference: r.reference,
      ...(r.description == null ? {} : { description: r.description }),
      itemLines: r.itemLines ?? [],
      taxLines: r.taxLines ?? [],
      merchantConfig: { supportedPaymentMethods: { cardSchemes: ['VISA', 'MASTERCARD', 'MAESTRO'], wallets: [] } },
      config: { ...config, branding: {}, tradingName: this.tradingName(intent) },
      paymentSource: r.paymentSource ?? 'api',
      ...(r.actionLink == null ? {} : { actionLink: r.actionLink }),
      ...(r.autoExpireAction == null ? {} : { autoExpireAction: r.autoExpireAction }),
      ...(r.autoExpireIn == null ? {} : { autoExpireIn: r.autoExpireIn }),
      ...(r.orderDetails == null ? {} : { orderDetails: r.orderDetails }),
      ...(r.setupIntentId == null ? {} : { setupIntentId: r.setupIntentId }),
      ...(r.cashbackAmount == null ? {} : { cashbackAmount: r.cashbackAmount }),
      ...(r.serviceChargeAmount == null ? {} : { serviceChargeAmount: r.serviceChargeAmount }),
      expireAt: intent.expireAt.toISOString(),
      metadata: r.metadata ?? {},
      paymentEvents: intent.paymentEvents,
      paymentLink: `${this.options.publicUrl}/checkout/${intent.id}`,
      terminalSessionHistory: [],
      captures: intent.captures
    }
  }

  // Webhook subscriptions

  createSubscription (key: string, input: { events: string[], url: string, description?: string | null }): Subscription {
    const account = this.account(key)
    const now = this.now()
    const subscription: Subscription = {
      id: newId(ID_PREFIX.subscription),
      accountKey: account.key,
      accountId: account.id,
      events: [...new Set(input.events)],
      url: input.url,
      ...(input.description == null ? {} : { description: input.description }),
      secrets: [newSecret(true)],
      createdAt: now,
      updatedAt: now
    }
    account.subscriptions.set(subscription.id, subscription)
    this.#subscriptions.set(subscription.id, subscription)
    this.#markSubscription(subscription)
    return subscription
  }

  subscriptions (key: string): Subscription[] {
    return [...this.account(key).subscriptions.values()]
  }

  getSubscription (key: string, id: string): Subscription {
    const subscription = this.account(key).subscriptions.get(id)
    if (subscription === undefined) throw notFound('Subscription')
    return subscription
  }

  findSubscription (id: string): Subscription | undefined {
    return this.#subscriptions.get(id)
  }

  updateSubscription (key: string, id: string, input: { events?: string[] | null, url?: string | null, description?: string | null }): Subscription {
    const subscription = this.getSubscription(key, id)
    if (input.events != null) subscription.events = [...new Set(input.events)]
    if (input.url != null) subscription.url = input.url
    if (input.description != null) subscription.description = input.description
    subscription.updatedAt = this.now()
    this.#markSubscription(subscription)
    return subscription
  }

  deleteSubscription (key: string, id: string): void {
    this.getSubscription(key, id)
    this.account(key).subscriptions.delete(id)
    this.#subscriptions.delete(id)
    for (const delivery of this.webhooks.deliveries(id)) this.#mark(`delivery:${delivery.id}`, () => ({ kind: 'delivery', id: delivery.id, removed: true }))
    this.webhooks.forget(id)
    this.#mark(`subscription:${id}`, () => ({ kind: 'subscription', id, removed: true }))
  }

  addSecret (key: string, id: string): Subscription {
    const subscription = this.getSubscription(key, id)
    // New secrets start inactive so a receiver can learn them before they are used to sign.
    subscription.secrets.push(newSecret(false))
    subscription.updatedAt = this.now()
    this.#markSubscription(subscription)
    return subscription
  }

  activateSecret (key: string, id: string, secretId: string): void {
    const subscription = this.getSubscription(key, id)
    const secret = subscription.secrets.find((s) => s.id === secretId)
    if (secret === undefined) throw notFound('Secret')
    for (const s of subscription.secrets) s.isActive = s === secret
    subscription.updatedAt = this.now()
    this.#markSubscription(subscription)
  }

  deleteSecret (key: string, id: string, secretId: string): void {
    const subscription = this.getSubscription(key, id)
    const secret = subscription.secrets.find((s) => s.id === secretId)
    if (secret === undefined) throw notFound('Secret')
    if (secret.isActive) throw conflict('The active secret cannot be deleted: activate another one first.')
    subscription.secrets = subscription.secrets.filter((s) => s !== secret)
    subscription.updatedAt = this.now()
    this.#markSubscription(subscription)
  }

  // Internals

  #assertPayable (intent: Intent): void {
    this.#expireIfDue(intent)
    if (intent.status !== 'Created') throw conflict(`Payment intent ${intent.id} is ${intent.status}: it cannot be paid.`)
  }

  #authorise (intent: Intent, card: MaskedCard): PaymentOutcome {
    const authCode = String(randomInt(0, 1_000_000)).padStart(6, '0')
    const transactionId = randomUUID()
    const now = this.now().toISOString()
    const to = intent.captureMode === 'Manual' ? 'Authorized' : 'Captured'
    intent.paymentDetails = {
      transactionId,
      transactionDateTime: now,
      message: to === 'Captured' ? 'DEPOSITED' : 'AUTHORIZED',
      authCode,
      card: { cardNumber: card.cardNumber, cardName: card.cardName, expiryDate: card.expiryDate, cardType: card.cardType, last4PAN: card.last4 }
    }
    if (to === 'Captured') intent.capturedAmount = totalAmount(intent).value
    else intent.authorizedAt = this.now()
    this.#event(intent, to, authCode, card, transactionId)
    this.#move(intent, to, '')
    return { outcome: to }
  }

  #decline (intent: Intent, card: MaskedCard): PaymentOutcome {
    // A decline is an event, not a status: the intent stays Created and can be paid again.
    this.#event(intent, 'Declined', '', card)
    intent.updatedAt = this.now()
    this.#markIntent(intent)
    return { outcome: 'Declined' }
  }

  #event (intent: Intent, eventType: PaymentEvent['eventType'], authCode: string, card?: MaskedCard, transactionId?: string): void {
    this.#markIntent(intent)
    const c = card ?? cardOfIntent(intent)
    intent.paymentEvents.push({
      transactionId: transactionId ?? intent.paymentDetails?.transactionId ?? randomUUID(),
      transactionDateTime: this.now().toISOString(),
      eventType,
      authCode,
      cardNumber: c?.cardNumber ?? '',
      expiryDate: c?.expiryDate ?? '',
      cardType: c?.cardType ?? '',
      cardholderName: c?.cardName ?? '',
      paymentMethodId: ''
    })
  }

  #move (intent: Intent, to: PaymentIntentStatus, why: string): void {
    if (!MOVES[intent.status].includes(to)) throw conflict(`Payment intent ${intent.id} is ${intent.status}${why === '' ? '' : `: ${why}`}.`)
    const from = intent.status
    intent.status = to
    intent.updatedAt = this.now()
    this.#markIntent(intent)
    if (from !== to) this.#emit(intent, 'payment_intent.status_updated')
  }

  // A Manual intent still Authorized `autoExpireIn` after authorisation is captured (its
  // uncaptured rest) or released (reversed), as `autoExpireAction` says (default Release).
  // Without `autoExpireIn`, Dojo reverses an authorisation still uncaptured after 7 days.
  #autoExpireIfDue (intent: Intent): boolean {
    const span = intent.request.autoExpireIn
    if (intent.status !== 'Authorized' || intent.authorizedAt === undefined) return false
    const after = span == null ? REVERSAL_WINDOW_MS : timespanMs(span) ?? REVERSAL_WINDOW_MS
    if (intent.authorizedAt.getTime() + after > this.now().getTime()) return false
    if (span != null && intent.request.autoExpireAction === 'Capture') {
      const remaining = totalAmount(intent).value - intent.capturedAmount
      intent.captures.push({ id: newId(ID_PREFIX.capture), amount: remaining, status: 'Successful', createdAt: this.now().toISOString() })
      intent.capturedAmount += remaining
      this.#event(intent, 'Captured', intent.paymentDetails?.authCode ?? '')
      this.#move(intent, 'Captured', '')
    } else {
      this.#move(intent, 'Reversed', '')
      this.#event(intent, 'Reversed', '')
    }
    return true
  }

  #expireIfDue (intent: Intent): boolean {
    if (intent.status !== 'Created' || !this.isExpired(intent)) return false
    // The spec: an intent not authorised by expireAt is voided. Voiding an unpaid intent is
    // what DELETE does, so it becomes Canceled (Reversed is for voids after authorisation).
    delete intent.challenge
    this.#move(intent, 'Canceled', '')
    return true
  }

  #emit (intent: Intent, event: WebhookEventName): void {
    const account = this.#accounts.get(intent.accountKey)
    if (account === undefined) return
    for (const subscription of account.subscriptions.values()) {
      if (!subscription.events.includes(event)) continue
      this.webhooks.enqueue(subscription.id, {
        id: newId(ID_PREFIX.event),
        event,
        accountId: intent.accountId,
        createdAt: this.now().toISOString(),
        data: { paymentIntentId: intent.id, paymentStatus: intent.status, captureMode: intent.captureMode }
      })
    }
  }

  #target (subscriptionId: string): { url: string, secret: string } | undefined {
    const subscription = this.#subscriptions.get(subscriptionId)
    const secret = subscription?.secrets.find((s) => s.isActive)
    if (subscription === undefined || secret === undefined) return undefined
    secret.lastUsedAt = this.now()
    this.#markSubscription(subscription)
    return { url: subscription.url, secret: secret.value }
  }

  // Persistence: records are made from the live objects at flush time, so several changes to
  // one intent within a request are one line.

  #mark (key: string, make: () => StateRecord): void {
    if (this.#state !== undefined) this.#dirty.set(key, make)
  }

  #markIntent (intent: Intent): void {
    this.#mark(`intent:${intent.id}`, () => ({ kind: 'intent', id: intent.id, value: intentRecord(intent) }))
  }

  #markSubscription (subscription: Subscription): void {
    this.#mark(`subscription:${subscription.id}`, () => ({ kind: 'subscription', id: subscription.id, value: subscriptionRecord(subscription) }))
  }

  #markAccount (account: Account): void {
    this.#mark(`account:${account.key}`, () => ({ kind: 'account', id: account.key, value: { id: account.id, tradingName: account.tradingName } }))
  }

  #markDelivery (delivery: Delivery, body: string): void {
    this.#mark(`delivery:${delivery.id}`, () => ({ kind: 'delivery', id: delivery.id, value: { delivery, body } }))
  }

  /** Sandbox control: a subscription's delivery fault, kept with the state. */
  setFault (subscriptionId: string, fault: Fault): void {
    this.webhooks.setFault(subscriptionId, fault)
    this.#mark(`fault:${subscriptionId}`, () => ({ kind: 'fault', id: subscriptionId, value: this.webhooks.fault(subscriptionId) }))
  }

  #snapshot (): StateRecord[] {
    const records: StateRecord[] = [{ kind: 'clock', id: 'clock', value: this.#clockOffsetMs }]
    for (const account of this.#accounts.values()) records.push({ kind: 'account', id: account.key, value: { id: account.id, tradingName: account.tradingName } })
    for (const intent of this.#intents.values()) records.push({ kind: 'intent', id: intent.id, value: intentRecord(intent) })
    for (const subscription of this.#subscriptions.values()) {
      records.push({ kind: 'subscription', id: subscription.id, value: subscriptionRecord(subscription) })
      records.push({ kind: 'fault', id: subscription.id, value: this.webhooks.fault(subscription.id) })
      for (const { delivery, body } of this.webhooks.deliveriesWithBodies(subscription.id)) records.push({ kind: 'delivery', id: delivery.id, value: { delivery, body } })
    }
    return records
  }

  // Back to where the last process left off: accounts, intents in creation order, subscriptions,
  // the clock, then the delivery logs; pending deliveries go out again (at least once, as ever).
  #restore (state: StateFile): void {
    const records = [...state.load().values()]
    const deliveries: Array<{ delivery: Delivery, body: string }> = []
    for (const r of records) {
      if (r.kind === 'clock') this.#clockOffsetMs = r.value as number
      else if (r.kind === 'account') {
        const v = r.value as { id: string, tradingName: string }
        this.#accounts.set(r.id, { key: r.id, id: v.id, tradingName: v.tradingName, intents: new Map(), subscriptions: new Map() })
      }
    }
    const intents = records.filter((r) => r.kind === 'intent').map((r) => intentFromRecord(r.value as IntentRecord)).sort((a, b) => a.seq - b.seq)
    for (const intent of intents) {
      this.#intents.set(intent.id, intent)
      this.#accounts.get(intent.accountKey)?.intents.set(intent.id, intent)
      this.#seq = Math.max(this.#seq, intent.seq)
    }
    for (const r of records) {
      if (r.kind === 'subscription') {
        const subscription = subscriptionFromRecord(r.value as SubscriptionRecord)
        this.#subscriptions.set(subscription.id, subscription)
        this.#accounts.get(subscription.accountKey)?.subscriptions.set(subscription.id, subscription)
      } else if (r.kind === 'fault') this.webhooks.setFault(r.id, r.value as Fault)
      else if (r.kind === 'delivery') deliveries.push(r.value as { delivery: Delivery, body: string })
    }
    this.webhooks.restore(deliveries.filter((d) => this.#subscriptions.has(d.delivery.subscriptionId)))
    state.compact(this.#snapshot())
    this.webhooks.resume()
  }
}

/** The key as the state knows it: a secret key is never written to disk. */
function keyHash (key: string): string {
  return createHash('sha256').update(key).digest('base64url')
}

type Dated<T, K extends keyof T> = Omit<T, K> & { [P in K]: string }
type IntentRecord = Dated<Omit<Intent, 'refunds' | 'authorizedAt'>, 'createdAt' | 'updatedAt' | 'expireAt' | 'clientSessionSecretExpirationDate'> & { refunds: Array<[string, Refund]>, authorizedAt?: string }
type SubscriptionRecord = Dated<Omit<Subscription, 'secrets'>, 'createdAt' | 'updatedAt'> & { secrets: Array<Dated<Omit<Secret, 'lastUsedAt'>, 'createdAt'> & { lastUsedAt?: string }> }

function intentRecord (intent: Intent): IntentRecord {
  const { refunds, authorizedAt, createdAt, updatedAt, expireAt, clientSessionSecretExpirationDate, ...rest } = intent
  return {
    ...rest,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
    expireAt: expireAt.toISOString(),
    clientSessionSecretExpirationDate: clientSessionSecretExpirationDate.toISOString(),
    refunds: [...refunds.entries()],
    ...(authorizedAt === undefined ? {} : { authorizedAt: authorizedAt.toISOString() })
  }
}

function intentFromRecord (r: IntentRecord): Intent {
  const { refunds, authorizedAt, createdAt, updatedAt, expireAt, clientSessionSecretExpirationDate, ...rest } = r
  return {
    ...rest,
    createdAt: new Date(createdAt),
    updatedAt: new Date(updatedAt),
    expireAt: new Date(expireAt),
    clientSessionSecretExpirationDate: new Date(clientSessionSecretExpirationDate),
    refunds: new Map(refunds),
    ...(authorizedAt === undefined ? {} : { authorizedAt: new Date(authorizedAt) })
  }
}

function subscriptionRecord (s: Subscription): SubscriptionRecord {
  return {
    ...s,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    secrets: s.secrets.map(({ lastUsedAt, createdAt, ...secret }) => ({ ...secret, createdAt: createdAt.toISOString(), ...(lastUsedAt === undefined ? {} : { lastUsedAt: lastUsedAt.toISOString() }) }))
  }
}

function subscriptionFromRecord (r: SubscriptionRecord): Subscription {
  return {
    ...r,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
    secrets: r.secrets.map(({ lastUsedAt, createdAt, ...secret }) => ({ ...secret, createdAt: new Date(createdAt), ...(lastUsedAt === undefined ? {} : { lastUsedAt: new Date(lastUsedAt) }) }))
  }
}

function totalAmount (intent: Intent): Money {
  const tips = intent.request.tipsAmount?.value ?? 0
  return { value: intent.request.amount.value + tips, currencyCode: intent.request.amount.currencyCode }
}

// The response's Customer has no saved-card fields: the secret and card id stay in.
function customerView (c: NonNullable<CreatePaymentIntentRequest['customer']>): { id?: string, emailAddress?: string | null, phoneNumber?: string | null } {
  return { ...(c.id == null ? {} : { id: c.id }), ...(c.emailAddress === undefined ? {} : { emailAddress: c.emailAddress }), ...(c.phoneNumber === undefined ? {} : { phoneNumber: c.phoneNumber }) }
}

/** A .NET TimeSpan (`dd.hh:MM:ss`) in milliseconds; undefined when malformed. */
export function timespanMs (span: string): number | undefined {
  const m = TIMESPAN.exec(span)
  if (m === null) return undefined
  const [days, hours, minutes, seconds] = [Number(m[1] ?? 0), Number(m[2]), Number(m[3]), Number(m[4])]
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined
  return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
}

function cardOfIntent (intent: Intent): MaskedCard | undefined {
  const card = intent.paymentDetails?.card
  if (card === undefined) return undefined
  return { cardNumber: card.cardNumber, last4: card.last4PAN, expiryDate: card.expiryDate, cardType: card.cardType, cardName: card.cardName }
}

function newSessionSecret (now: Date): { clientSessionSecret: string, clientSessionSecretExpirationDate: Date } {
  return { clientSessionSecret: randomBytes(96).toString('base64url'), clientSessionSecretExpirationDate: new Date(now.getTime() + 30 * 60_000) }
}

function newSecret (isActive: boolean): Secret {
  return { id: newId(ID_PREFIX.secret), value: randomBytes(16).toString('base64url'), isActive, createdAt: new Date() }
}

// Dojo takes GBP and EUR; anything else is refused as Dojo would.
const CURRENCIES = new Set(['GBP', 'EUR'])

function isCurrency (code: string): boolean {
  return CURRENCIES.has(code)
}

// The project's one cursor codec (service-kit), with Dojo's own validation error around it.
function encodeCursor (seq: number): string {
  return encodeKey([seq])
}

function decodeCursor (cursor: string, field: string): number {
  try {
    return decodeKey(cursor, ['number'])[0] as number
  } catch {
    throw validationError(field, `The ${field} value is not a valid cursor.`)
  }
}
