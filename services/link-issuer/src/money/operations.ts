import { createHash } from 'node:crypto'
import { CommandErrorCodes, handleCommand } from '@paylinks/commands'
import {
  CAPTURABLE_STATUSES, isForwardMove, paymentLinkStream, PaymentLinkCaptured, PaymentLinkRefunded, REFUNDABLE_STATUSES, type NewEvent
} from '@paylinks/contracts'
import { isDojoError, isDojoRefusal, type DojoClient, type PaymentIntent } from '@paylinks/dojo-client'
import type { EventStore } from '@paylinks/event-store'
import type { Merchant } from '@paylinks/merchants'
import type { EventPublisher } from '@paylinks/messaging'
import type { MerchantDirectory } from '../dojo.js'
import { LinkErrorCodes, linkError } from '../errors.js'
import { metadataOf } from '../issuing/decisions.js'
import { evolveIssuerLink, foldLink, registry, type IssuerLinkState } from '../link.js'
import { claimIdempotencyKey } from '../repositories/idempotency.js'
import type { Db } from '../tables.js'

const sha = (...parts: string[]): string => createHash('sha256').update(parts.join('\u0000')).digest('base64url')

/** Canonical JSON (sorted keys): the same body hashes the same however its keys are ordered. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export interface MoneyOptions {
  db: Db
  store: EventStore
  publisher: EventPublisher
  merchants: MerchantDirectory
}

/** One refund, capture or release as the partner sees it, with the link after it. */
export interface MoneyResult {
  state: IssuerLinkState
  /** Dojo's id of the refund, capture or reversal (null: a reversal Dojo had done already). */
  id: string | null
  amount?: number
}

export interface Money {
  refund: (merchant: Merchant, linkId: string, input: { amount?: number, reason?: string }, key: string) => Promise<MoneyResult>
  capture: (merchant: Merchant, linkId: string, input: { amount?: number }, key: string) => Promise<MoneyResult>
  release: (merchant: Merchant, linkId: string) => Promise<MoneyResult>
}

/**
 * Refunds, captures and releases through the partner API. Each reads the link, checks what its
 * status and amounts allow (problem+json otherwise, nothing sent), asks Dojo (a refund with an
 * idempotency key derived from the partner's, so a retry refunds once), then records the event
 * through handleCommand at the expected sequence. A replay of the same Idempotency-Key finds its
 * recorded event and answers the same without calling Dojo again.
 */
export function createMoney (options: MoneyOptions): Money {
  const { db, store, publisher, merchants } = options

  async function load (merchant: Merchant, linkId: string): Promise<IssuerLinkState> {
    const state = foldLink(await store.readStream(paymentLinkStream(linkId)))
    // Another merchant's link is as unknown as a missing one.
    if (state === undefined || state.merchantId !== merchant.id) throw linkError(LinkErrorCodes.notFound, 404, `No payment link ${linkId}.`, { linkId })
    return state
  }

  async function claim (merchant: Merchant, state: IssuerLinkState, key: string, operation: string, body: unknown): Promise<string> {
    const claimed = await claimIdempotencyKey(db, { merchantId: merchant.id, key, requestHash: sha(operation, state.linkId, canonical(body ?? {})), linkId: state.linkId })
    if (claimed === 'mismatch') {
      throw linkError(LinkErrorCodes.idempotencyMismatch, 422, 'This Idempotency-Key was used with a different request: send the same one to replay it, or use a new key.', { linkId: state.linkId })
    }
    return `${operation}:${sha(merchant.id, key).slice(0, 32)}`
  }

  /** The key is free again: the attempt it claimed did nothing (Dojo refused it). */
  async function unclaim (merchant: Merchant, key: string): Promise<void> {
    await db.deleteFrom('li_idempotency_keys').where('merchant_id', '=', merchant.id).where('key', '=', key).execute()
  }

  function recorded<T> (state: IssuerLinkState, type: string, requestId: string): T | undefined {
    return state.events.find((e) => e.type === type && e.data.requestId === requestId)?.data as T | undefined
  }

  async function decide (state: IssuerLinkState, decision: (s: IssuerLinkState) => NewEvent[]): Promise<IssuerLinkState> {
    try {
      const result = await handleCommand({
        store,
        publisher,
        streamId: paymentLinkStream(state.linkId),
        initialState: () => undefined as IssuerLinkState | undefined,
        evolve: evolveIssuerLink,
        known: { state, position: state.position, version: state.events.at(-1)?.streamVersion ?? 0 },
        retry: { retries: 20, minDelayMs: 5, maxDelayMs: 200 },
        decide: (s) => (s === undefined ? [] : decision(s))
      })
      await store.waitForPosition(result.position, 10_000)
      return result.state ?? state
    } catch (error) {
      if ((error as { code?: string }).code === CommandErrorCodes.contended) {
        throw linkError(LinkErrorCodes.contention, 503, 'The link is being changed by others; retry shortly with the same Idempotency-Key.', { linkId: state.linkId }, error)
      }
      throw error
    }
  }

  /** Dojo's answer as ours: its refusals (409, 400) name what it refused; an outage is a 503 to retry. */
  function dojoFailure (error: unknown, linkId: string, what: string): Error {
    if (isDojoError(error) && isDojoRefusal(error)) {
      const status = isDojoError(error, 'DOJO_CONFLICT') ? 409 : 422
      return linkError(LinkErrorCodes.dojoRefused, status, `Dojo refused the ${what}: ${error.message}`.slice(0, 500), { linkId, dojoCode: error.code }, error)
    }
    if (isDojoError(error)) return linkError(LinkErrorCodes.dojoUnavailable, 503, `Dojo did not answer the ${what}; retry with the same Idempotency-Key (it is done at most once).`, { linkId }, error)
    return error as Error
  }

  async function intentOf (client: DojoClient, paymentIntentId: string): Promise<PaymentIntent | undefined> {
    try {
      return await client.getPaymentIntent(paymentIntentId, { returnCanceled: true })
    } catch {
      return undefined
    }
  }

  return {
    async refund (merchant, linkId, input, key) {
      let state = await load(merchant, linkId)
      const requestId = await claim(merchant, state, key, 'refund', input)
      const replay = recorded<{ refundId: string, amount: { value: number } }>(state, PaymentLinkRefunded.type, requestId)
      if (replay !== undefined) return { state, id: replay.refundId, amount: replay.amount.value }
      if (!REFUNDABLE_STATUSES.has(state.status) || state.paymentIntentId === undefined) {
        throw linkError(LinkErrorCodes.notRefundable, 409, `Link ${linkId} is ${state.status}: only a paid (or captured) link can be refunded.`, { linkId, linkStatus: state.status })
      }
      const refundable = state.capturedAmount - state.refundedAmount
      const amount = input.amount ?? refundable
      if (amount > refundable || amount < 1) {
        throw linkError(LinkErrorCodes.overRefund, 422, `Link ${linkId} has ${refundable} ${state.amount.currencyCode} minor units left to refund (captured ${state.capturedAmount}, refunded ${state.refundedAmount}); ${amount} is more.`, { linkId, refundable })
      }
      const client = await merchants.dojo(merchant)
      const paymentIntentId = state.paymentIntentId
      let refundId: string
      try {
        // Dojo replays a refund for the same key: derived from the partner's, a retry refunds once.
        refundId = (await client.refundPaymentIntent(paymentIntentId, {
          amount, idempotencyKey: `pl_${sha('refund', merchant.id, linkId, key).slice(0, 40)}`, ...(input.reason === undefined ? {} : { refundReason: input.reason })
        })).refundId
      } catch (error) {
        throw dojoFailure(error, linkId, 'refund')
      }
      // What Dojo holds refunded now: a webhook or the reconciler may have recorded this refund first.
      const dojoRefunded = (await intentOf(client, paymentIntentId))?.refundedAmount ?? Number.POSITIVE_INFINITY
      state = await decide(state, (s) => {
        if (s.refundIds.includes(refundId) || recorded(s, PaymentLinkRefunded.type, requestId) !== undefined) return []
        if (s.refundedAmount + amount > dojoRefunded) return []
        return [registry.create('payment-link.refunded', {
          linkId,
          paymentIntentId,
          refundId,
          amount: { value: amount, currencyCode: s.amount.currencyCode },
          refundedAmount: s.refundedAmount + amount,
          capturedAmount: s.capturedAmount,
          ...(input.reason === undefined ? {} : { reason: input.reason }),
          source: 'api',
          observedAt: new Date().toISOString(),
          requestId
        }, { streamId: paymentLinkStream(linkId), metadata: { ...metadataOf(s), causationId: requestId } })]
      })
      return { state, id: refundId, amount }
    },

    async capture (merchant, linkId, input, key) {
      let state = await load(merchant, linkId)
      const requestId = await claim(merchant, state, key, 'capture', input)
      const replay = recorded<{ captureId: string, amount: { value: number } }>(state, PaymentLinkCaptured.type, requestId)
      if (replay !== undefined) return { state, id: replay.captureId, amount: replay.amount.value }
      if (state.captureMode !== 'Manual') {
        throw linkError(LinkErrorCodes.notManual, 409, `Link ${linkId} was created with captureMode Auto: Dojo captured it at payment.`, { linkId })
      }
      if (!CAPTURABLE_STATUSES.has(state.status) || state.paymentIntentId === undefined) {
        throw linkError(LinkErrorCodes.notCapturable, 409, `Link ${linkId} is ${state.status}: only an authorised (or partly captured) link can be captured.`, { linkId, linkStatus: state.status })
      }
      const capturable = state.amount.value - state.capturedAmount
      const amount = input.amount ?? capturable
      if (amount > capturable || amount < 1) {
        throw linkError(LinkErrorCodes.overCapture, 422, `Link ${linkId} has ${capturable} minor units left to capture (of ${state.amount.value}); ${amount} is more.`, { linkId, capturable })
      }
      const client = await merchants.dojo(merchant)
      const paymentIntentId = state.paymentIntentId
      let captureId: string
      try {
        captureId = (await client.capturePaymentIntent(paymentIntentId, { amount })).captureId
      } catch (error) {
        // Dojo has no idempotency key for captures: only a definite refusal frees the key for a retry.
        if (isDojoError(error) && isDojoRefusal(error)) await unclaim(merchant, key)
        throw dojoFailure(error, linkId, 'capture')
      }
      state = await decide(state, (s) => {
        if (s.captureIds.includes(captureId) || recorded(s, PaymentLinkCaptured.type, requestId) !== undefined) return []
        return [registry.create('payment-link.captured', {
          linkId,
          paymentIntentId,
          captureId,
          amount: { value: amount, currencyCode: s.amount.currencyCode },
          capturedAmount: Math.min(s.amount.value, s.capturedAmount + amount),
          source: 'api',
          observedAt: new Date().toISOString(),
          requestId
        }, { streamId: paymentLinkStream(linkId), metadata: { ...metadataOf(s), causationId: requestId } })]
      })
      return { state, id: captureId, amount }
    },

    async release (merchant, linkId) {
      let state = await load(merchant, linkId)
      if (state.status === 'released') return { state, id: null }
      if (!isForwardMove(state.status, 'released') || state.paymentIntentId === undefined) {
        const why = state.status === 'captured' || state.status === 'partially_refunded'
          ? 'a captured payment can only be refunded'
          : 'only an authorised link, or a payment on the day it was taken, can be released'
        throw linkError(LinkErrorCodes.notReleasable, 409, `Link ${linkId} is ${state.status}: ${why}.`, { linkId, linkStatus: state.status })
      }
      const client = await merchants.dojo(merchant)
      const paymentIntentId = state.paymentIntentId
      let reversalId: string | null
      try {
        reversalId = (await client.reversePaymentIntent(paymentIntentId)).reversalId
      } catch (error) {
        throw dojoFailure(error, linkId, 'release (reversal)')
      }
      state = await decide(state, (s) => {
        if (!isForwardMove(s.status, 'released')) return []
        return [registry.create('payment-link.released', {
          linkId, paymentIntentId, ...(reversalId === null ? {} : { reversalId }), source: 'api', observedAt: new Date().toISOString()
        }, { streamId: paymentLinkStream(linkId), metadata: metadataOf(s) })]
      })
      return { state, id: reversalId }
    }
  }
}
