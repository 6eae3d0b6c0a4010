import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemResponses, routeDefaults } from '@paylinks/service-kit'
import { validateCard } from '../cards.js'
import { notFound, SandboxError, SandboxErrorCodes } from '../errors.js'
import { PaymentIntentStatusSchema } from '../schemas.js'
import type { Sandbox } from '../sandbox.js'

const FaultSchema = Type.Object({
  mode: Type.Union([Type.Literal('none'), Type.Literal('duplicate'), Type.Literal('delay'), Type.Literal('reorder'), Type.Literal('drop')], { description: 'duplicate: send each event twice; delay: wait delayMs first; reorder: hold one event until the next overtakes it (or delayMs passes); drop: never send.' }),
  delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, default: 1000 }))
}, { additionalProperties: false, title: 'SandboxFault' })

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  startedAt: Type.String({ format: 'date-time' }),
  latencyMs: Type.Number(),
  statusCode: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')])
})

const DeliveryLogSchema = Type.Object({
  subscriptionId: Type.String(),
  fault: FaultSchema,
  deliveries: Type.Array(Type.Object({
    id: Type.String(),
    eventId: Type.String(),
    event: Type.String(),
    paymentIntentId: Type.String(),
    paymentStatus: Type.String(),
    status: Type.Union(['pending', 'delivered', 'failed', 'dropped'].map((s) => Type.Literal(s))),
    fault: Type.String(),
    attempts: Type.Array(AttemptSchema),
    createdAt: Type.String({ format: 'date-time' })
  }))
}, { title: 'SandboxDeliveryLog' })

const PayRequestSchema = Type.Object({
  cardNumber: Type.String({ maxLength: 40 }),
  expiry: Type.String({ maxLength: 10, description: 'MM/YY' }),
  cvv: Type.String({ maxLength: 10 }),
  cardName: Type.Optional(Type.String({ maxLength: 100 })),
  challengeCode: Type.Optional(Type.String({ maxLength: 20, description: '3-D Secure answer for cards that challenge; 1234 passes.' }))
}, { additionalProperties: false, title: 'SandboxPayRequest' })

const PayResponseSchema = Type.Object({
  paymentIntentId: Type.String(),
  outcome: Type.Union(['Authorized', 'Captured', 'Declined', 'ChallengeRequired'].map((o) => Type.Literal(o))),
  status: PaymentIntentStatusSchema
}, { title: 'SandboxPayResponse' })

const AccountRequestSchema = Type.Object({
  secretKey: Type.String({ pattern: '^sk_sandbox_[A-Za-z0-9_-]{1,200}$', description: 'The account\'s secret key, as the Dojo API is called with it (sk_sandbox_…)' }),
  tradingName: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Shown on the checkout page and in config.tradingName; default MERCHANT_NAME' }))
}, { additionalProperties: false, title: 'SandboxAccountRequest' })

const AccountSchema = Type.Object({
  accountId: Type.String(),
  tradingName: Type.String()
}, { title: 'SandboxAccount' })

const IntentParams = Type.Object({ paymentIntentId: Type.String({ maxLength: 100 }) })
const SubscriptionParams = Type.Object({ subscriptionId: Type.String({ maxLength: 100 }) })
const problems = problemResponses(400, 404, 409)
const tags = ['sandbox-controls']

/**
 * Controls that exist only in this emulator, under /sandbox: not Dojo's API. They answer in
 * our problem+json and need no key, since they are for tests and load tests on loopback.
 */
export async function sandboxControls (app: FastifyInstance, options: { sandbox: Sandbox }): Promise<void> {
  const { sandbox } = options
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  routeDefaults(app, { security: [] })

  const subscription = (id: string) => {
    const s = sandbox.findSubscription(id)
    if (s === undefined) throw notFound('Subscription')
    return s
  }
  const intent = (id: string) => {
    const i = sandbox.findIntent(id)
    if (i === undefined) throw notFound('Payment intent')
    return i
  }

  api.post('/clock', {
    schema: {
      operationId: 'advanceSandboxClock',
      tags,
      summary: 'Move the sandbox clock forward (expiry, Manual auto-expiry, reversal windows), then run what fell due',
      body: Type.Object({ advanceMs: Type.Integer({ minimum: 0, maximum: 366 * 86_400_000 }) }, { additionalProperties: false, title: 'SandboxClockAdvance' }),
      response: { 200: Type.Object({ now: Type.String({ format: 'date-time' }) }, { title: 'SandboxClock' }), ...problems }
    }
  }, async (request) => ({ now: sandbox.advanceClock(request.body.advanceMs).toISOString() }))

  api.post('/accounts', {
    schema: {
      operationId: 'setUpSandboxAccount',
      tags,
      summary: 'Set up the account of a secret key (its trading name); made on first use otherwise, with MERCHANT_NAME',
      body: AccountRequestSchema,
      response: { 200: AccountSchema, ...problems }
    }
  }, async (request) => {
    const account = sandbox.configureAccount(request.body.secretKey, { tradingName: request.body.tradingName })
    return { accountId: account.id, tradingName: account.tradingName }
  })

  api.get('/webhooks/:subscriptionId/deliveries', {
    schema: { operationId: 'listSandboxWebhookDeliveries', tags, summary: "A subscription's delivery log: every attempt, its status and latency (last 1000)", params: SubscriptionParams, response: { 200: DeliveryLogSchema, ...problems } }
  }, async (request) => {
    const s = subscription(request.params.subscriptionId)
    return { subscriptionId: s.id, fault: sandbox.webhooks.fault(s.id), deliveries: sandbox.webhooks.deliveries(s.id) }
  })

  api.put('/webhooks/:subscriptionId/fault', {
    schema: { operationId: 'setSandboxWebhookFault', tags, summary: "Set a subscription's delivery fault", params: SubscriptionParams, body: FaultSchema, response: { 200: FaultSchema, ...problems } }
  }, async (request) => {
    const s = subscription(request.params.subscriptionId)
    sandbox.setFault(s.id, { mode: request.body.mode, delayMs: request.body.delayMs ?? 1000 })
    return sandbox.webhooks.fault(s.id)
  })

  api.post('/payment-intents/:paymentIntentId/pay', {
    schema: { operationId: 'paySandboxPaymentIntent', tags, summary: 'Pay an intent without the browser, with the test cards of the checkout page', params: IntentParams, body: PayRequestSchema, response: { 200: PayResponseSchema, ...problems } }
  }, async (request) => {
    const i = intent(request.params.paymentIntentId)
    const errors = validateCard(request.body, new Date(), sandbox.options.legacyTestExpiry)
    const fields = Object.entries(errors)
    if (fields.length > 0) {
      throw new SandboxError(SandboxErrorCodes.validation, 400, fields.map(([k, v]) => `${k}: ${v}`).join(' '))
    }
    const result = sandbox.pay(i, request.body, request.body.challengeCode)
    return { paymentIntentId: i.id, outcome: result.outcome, status: i.status }
  })

  api.post('/payment-intents/:paymentIntentId/expire', {
    schema: { operationId: 'expireSandboxPaymentIntent', tags, summary: 'Make an unpaid intent reach its expireAt now (it becomes Canceled)', params: IntentParams, response: { 200: Type.Object({ paymentIntentId: Type.String(), status: PaymentIntentStatusSchema, expireAt: Type.String() }), ...problems } }
  }, async (request) => {
    const i = sandbox.forceExpire(intent(request.params.paymentIntentId))
    return { paymentIntentId: i.id, status: i.status, expireAt: i.expireAt.toISOString() }
  })
}
