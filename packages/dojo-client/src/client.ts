import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { checker, problems } from './check.js'
import { DojoError, DojoErrorCodes } from './errors.js'
import { createHttp } from './http.js'
import {
  CaptureRequestSchema, CaptureResultSchema, CreatePaymentIntentRequestSchema, CreateWebhookSubscriptionRequestSchema,
  IdempotencyKeySchema, PaymentIntentPageSchema, PaymentIntentSchema, RefundRequestSchema, RefundResultSchema,
  ReversalResultSchema, SearchPaymentIntentsRequestSchema, SendReceiptRequestSchema, UpdateWebhookSubscriptionRequestSchema, WebhookEventCatalogueSchema,
  WebhookSecretsSchema, WebhookSubscriptionListSchema, WebhookSubscriptionSchema,
  type CaptureRequest, type CaptureResult, type CreatePaymentIntentRequest, type CreateWebhookSubscriptionRequest,
  type PaymentIntent, type PaymentIntentPage, type RefundRequest, type RefundResult, type ReversalResult,
  type SearchPaymentIntentsRequest, type SendReceiptRequest, type UpdateWebhookSubscriptionRequest, type WebhookEventCatalogue,
  type WebhookSecrets, type WebhookSubscription
} from './schemas.js'

/** Dojo's one base URL; the key's prefix selects sandbox or production there. */
export const DOJO_API_URL = 'https://api.dojo.tech'
export const DEFAULT_API_VERSION = '2026-02-27'

export const DojoClientOptionsSchema = Type.Object({
  /** `https://api.dojo.tech`, or an emulator's URL (sandbox keys only). */
  baseUrl: Type.String({ minLength: 1 }),
  /** `sk_sandbox_…` or `sk_prod_…`; sent raw as `Authorization: Basic <key>`. */
  secretKey: Type.String({ minLength: 1 }),
  /** The `version` header. Default 2026-02-27. */
  apiVersion: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })),
  /** Per attempt, including reading the body. Default 10000. */
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000 })),
  /** Further attempts after a retryable failure. Default 2. */
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  /** First back-off delay; doubled each time, times a random 1–2, at most 10 s. Default 250. */
  retryDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 }))
}, { additionalProperties: false })

export type DojoClientOptions = Static<typeof DojoClientOptionsSchema> & {
  /** A fetch implementation (tests, proxies). Default: undici's request() on a keep-alive pool of the client's own. */
  fetch?: typeof fetch
}

export type DojoEnvironment = 'sandbox' | 'production'

export type RefundInput = RefundRequest & {
  /** Sent as the `idempotencyKey` header (≤ 100 chars): one per refund; the same key replays it. */
  idempotencyKey: string
}

export interface FindByReferenceOptions {
  /** Search from this creation time (inclusive): just before the create call you are checking. */
  createdFrom: Date | string
  /** Until this creation time. Default now plus a minute (clock skew). */
  createdTo?: Date | string
  /** Pages of 100 to read at most. Default 10. */
  maxPages?: number
}

export interface DojoClient {
  readonly environment: DojoEnvironment
  /** The base URL in use, without a trailing slash. */
  readonly baseUrl: string
  /** POST /payment-intents. Retried only when Dojo cannot have received it (see README). */
  createPaymentIntent: (request: CreatePaymentIntentRequest) => Promise<PaymentIntent>
  /** GET /payment-intents/{id}; a canceled intent is DOJO_NOT_FOUND unless `returnCanceled`. */
  getPaymentIntent: (id: string, options?: { returnCanceled?: boolean }) => Promise<PaymentIntent>
  /** DELETE /payment-intents/{id}: cancel while `Created`. Resolves with the canceled intent. */
  cancelPaymentIntent: (id: string) => Promise<PaymentIntent>
  /** POST /payment-intents/{id}/captures (Manual capture mode). Retried only when unsent. */
  capturePaymentIntent: (id: string, request: CaptureRequest) => Promise<CaptureResult>
  /** POST /payment-intents/{id}/refunds with the `idempotencyKey` header; retried. */
  refundPaymentIntent: (id: string, request: RefundInput) => Promise<RefundResult>
  /** GET /payment-intents/refunds/{refundId}: a refund by its id (e.g. after an unknown outcome). */
  getRefund: (refundId: string) => Promise<RefundResult>
  /** POST /payment-intents/{id}/receipt: Dojo e-mails the payment's receipt to these addresses. */
  sendReceipt: (id: string, request: SendReceiptRequest) => Promise<void>
  /** POST /payment-intents/{id}/reversal: void an authorised or captured payment. */
  reversePaymentIntent: (id: string) => Promise<ReversalResult>
  /** POST /payment-intents/search: one page, newest first; follow `after` for older pages. */
  searchPaymentIntents: (request?: SearchPaymentIntentsRequest) => Promise<PaymentIntentPage>
  /**
   * Intents with this exact `reference` created in a time window, read through search pages
   * (Dojo's search has no reference filter). Use it to settle a create whose outcome is unknown.
   */
  findPaymentIntentsByReference: (reference: string, options: FindByReferenceOptions) => Promise<PaymentIntent[]>
  /** POST /payment-intents/{id}/refresh-client-session-secret; resolves with the intent. */
  refreshClientSessionSecret: (id: string) => Promise<PaymentIntent>
  /** GET /webhooks/events: the event catalogue. */
  listWebhookEvents: () => Promise<WebhookEventCatalogue>
  /** POST /webhooks: created with one active secret. Retried only when unsent. */
  createWebhookSubscription: (request: CreateWebhookSubscriptionRequest) => Promise<WebhookSubscription>
  /** GET /webhooks. */
  listWebhookSubscriptions: () => Promise<WebhookSubscription[]>
  /** One subscription, found through GET /webhooks (Dojo has no GET by id); DOJO_NOT_FOUND if absent. */
  getWebhookSubscription: (id: string) => Promise<WebhookSubscription>
  /** PATCH /webhooks/{id}. */
  updateWebhookSubscription: (id: string, request: UpdateWebhookSubscriptionRequest) => Promise<WebhookSubscription>
  /** DELETE /webhooks/{id}. */
  deleteWebhookSubscription: (id: string) => Promise<void>
  /** GET /webhooks/{id}/secrets. */
  listWebhookSecrets: (subscriptionId: string) => Promise<WebhookSecrets>
  /** POST /webhooks/{id}/secrets: a new secret (inactive until activated). Retried only when unsent. */
  createWebhookSecret: (subscriptionId: string) => Promise<WebhookSecrets>
  /** PUT /webhooks/{id}/secrets/{secretId}/activate. */
  activateWebhookSecret: (subscriptionId: string, secretId: string) => Promise<void>
  /** DELETE /webhooks/{id}/secrets/{secretId}. */
  deleteWebhookSecret: (subscriptionId: string, secretId: string) => Promise<void>
  /** Aborts calls in flight (DOJO_CLOSED), closes the client's connections and refuses new calls. */
  close: () => Promise<void>
}

/**
 * A client for one merchant's Dojo account. Options are checked here: a production key is
 * refused anywhere but https://api.dojo.tech, and an emulator only takes sandbox keys.
 */
export function createDojoClient (options: DojoClientOptions): DojoClient {
  const { baseUrl, environment } = checkOptions(options)
  const controller = new AbortController()
  const http = createHttp({
    baseUrl,
    secretKey: options.secretKey,
    apiVersion: options.apiVersion ?? DEFAULT_API_VERSION,
    timeoutMs: options.timeoutMs ?? 10_000,
    retries: options.retries ?? 2,
    retryDelayMs: options.retryDelayMs ?? 250,
    fetch: options.fetch,
    closed: controller.signal
  })

  const intentPath = (id: string): string => `/payment-intents/${pathId(id, 'paymentIntentId')}`
  const webhookPath = (id: string): string => `/webhooks/${pathId(id, 'subscriptionId')}`

  async function getPaymentIntent (id: string, getOptions: { returnCanceled?: boolean } = {}): Promise<PaymentIntent> {
    return await http.send({
      method: 'GET',
      path: intentPath(id),
      ...(getOptions.returnCanceled === true ? { query: { returnCanceled: 'true' } } : {}),
      schema: PaymentIntentSchema,
      retry: 'always'
    })
  }

  async function listWebhookSubscriptions (): Promise<WebhookSubscription[]> {
    return await http.send({ method: 'GET', path: '/webhooks', schema: WebhookSubscriptionListSchema, retry: 'always' })
  }

  async function searchPaymentIntents (request: SearchPaymentIntentsRequest = {}): Promise<PaymentIntentPage> {
    return await http.send({ method: 'POST', path: '/payment-intents/search', body: input(SearchPaymentIntentsRequestSchema, request, 'search request'), schema: PaymentIntentPageSchema, retry: 'always' })
  }

  return {
    environment,
    baseUrl,

    async createPaymentIntent (request) {
      return await http.send({ method: 'POST', path: '/payment-intents', body: input(CreatePaymentIntentRequestSchema, request, 'payment intent'), schema: PaymentIntentSchema, retry: 'unsent' })
    },

    getPaymentIntent,

    async cancelPaymentIntent (id) {
      return await http.send({
        method: 'DELETE',
        path: intentPath(id),
        schema: PaymentIntentSchema,
        retry: 'always',
        // A retry after a lost answer finds the intent canceled already (404, or 409).
        recover: async () => {
          const intent = await getPaymentIntent(id, { returnCanceled: true })
          return intent.status === 'Canceled' ? { value: intent } : undefined
        }
      })
    },

    async capturePaymentIntent (id, request) {
      return await http.send({ method: 'POST', path: `${intentPath(id)}/captures`, body: input(CaptureRequestSchema, request, 'capture'), schema: CaptureResultSchema, retry: 'unsent' })
    },

    async refundPaymentIntent (id, request) {
      const { idempotencyKey, ...body } = request ?? {} as RefundInput
      input(IdempotencyKeySchema, idempotencyKey, 'idempotencyKey')
      return await http.send({
        method: 'POST',
        path: `${intentPath(id)}/refunds`,
        headers: { idempotencyKey },
        body: input(RefundRequestSchema, body, 'refund'),
        schema: RefundResultSchema,
        retry: 'always'
      })
    },

    async getRefund (refundId) {
      return await http.send({ method: 'GET', path: `/payment-intents/refunds/${pathId(refundId, 'refundId')}`, schema: RefundResultSchema, retry: 'always' })
    },

    async sendReceipt (id, request) {
      // Only if unsent: a blind retry could e-mail the customer twice.
      await http.send({ method: 'POST', path: `${intentPath(id)}/receipt`, body: input(SendReceiptRequestSchema, request, 'receipt request'), schema: undefined, retry: 'unsent' })
    },

    async reversePaymentIntent (id) {
      return await http.send({
        method: 'POST',
        path: `${intentPath(id)}/reversal`,
        schema: ReversalResultSchema,
        retry: 'always',
        // An intent can be reversed once: a retry after a lost answer gets 409 on a Reversed intent.
        recover: async () => {
          const intent = await getPaymentIntent(id)
          return intent.status === 'Reversed' ? { value: { reversalId: null, message: 'Reversed (confirmed by reading the intent after a retry)' } } : undefined
        }
      })
    },

    searchPaymentIntents,

    async findPaymentIntentsByReference (reference, findOptions) {
      input(ReferenceSchema, reference, 'reference')
      const startDate = isoDate(findOptions?.createdFrom, 'createdFrom')
      const endDate = isoDate(findOptions.createdTo ?? new Date(Date.now() + 60_000), 'createdTo')
      const maxPages = findOptions.maxPages ?? 10
      input(MaxPagesSchema, maxPages, 'maxPages')
      const found: PaymentIntent[] = []
      let after: string | undefined
      for (let page = 0; page < maxPages; page++) {
        const result = await searchPaymentIntents({ startDate, endDate, cursor: { limit: 100, ...(after === undefined ? {} : { after }) } })
        found.push(...result.data.filter((intent) => intent.reference === reference))
        if (result.data.length === 0 || typeof result.after !== 'string' || result.after === '' || result.after === after) break
        after = result.after
      }
      return found
    },

    async refreshClientSessionSecret (id) {
      return await http.send({ method: 'POST', path: `${intentPath(id)}/refresh-client-session-secret`, schema: PaymentIntentSchema, retry: 'always' })
    },

    async listWebhookEvents () {
      return await http.send({ method: 'GET', path: '/webhooks/events', schema: WebhookEventCatalogueSchema, retry: 'always' })
    },

    async createWebhookSubscription (request) {
      return await http.send({ method: 'POST', path: '/webhooks', body: input(CreateWebhookSubscriptionRequestSchema, request, 'webhook subscription'), schema: WebhookSubscriptionSchema, retry: 'unsent' })
    },

    listWebhookSubscriptions,

    async getWebhookSubscription (id) {
      pathId(id, 'subscriptionId')
      const found = (await listWebhookSubscriptions()).find((s) => s.id === id)
      if (found === undefined) throw new DojoError(DojoErrorCodes.notFound, `Dojo has no webhook subscription ${id} for this key`, { operation: 'GET /webhooks' })
      return found
    },

    async updateWebhookSubscription (id, request) {
      return await http.send({ method: 'PATCH', path: webhookPath(id), body: input(UpdateWebhookSubscriptionRequestSchema, request, 'webhook subscription update'), schema: WebhookSubscriptionSchema, retry: 'always' })
    },

    async deleteWebhookSubscription (id) {
      // Gone is gone: a retry answered 404 means an earlier attempt deleted it.
      await http.send({ method: 'DELETE', path: webhookPath(id), schema: undefined, retry: 'always', recover: async (error) => goneAfterRetry(error) })
    },

    async listWebhookSecrets (subscriptionId) {
      return await http.send({ method: 'GET', path: `${webhookPath(subscriptionId)}/secrets`, schema: WebhookSecretsSchema, retry: 'always' })
    },

    async createWebhookSecret (subscriptionId) {
      return await http.send({ method: 'POST', path: `${webhookPath(subscriptionId)}/secrets`, schema: WebhookSecretsSchema, retry: 'unsent' })
    },

    async activateWebhookSecret (subscriptionId, secretId) {
      await http.send({ method: 'PUT', path: `${webhookPath(subscriptionId)}/secrets/${pathId(secretId, 'secretId')}/activate`, schema: undefined, retry: 'always' })
    },

    async deleteWebhookSecret (subscriptionId, secretId) {
      await http.send({ method: 'DELETE', path: `${webhookPath(subscriptionId)}/secrets/${pathId(secretId, 'secretId')}`, schema: undefined, retry: 'always', recover: async (error) => goneAfterRetry(error) })
    },

    async close () {
      if (!controller.signal.aborted) controller.abort(new DojoError(DojoErrorCodes.closed, 'the Dojo client is closed'))
      await http.close()
    }
  }
}

function goneAfterRetry (error: DojoError): { value: undefined } | undefined {
  return error.status === 404 ? { value: undefined } : undefined
}

function checkOptions (options: DojoClientOptions): { baseUrl: string, environment: DojoEnvironment } {
  const fail = (message: string): never => { throw new DojoError(DojoErrorCodes.config, `Dojo client options: ${message}`) }
  if (typeof options !== 'object' || options === null) return fail('expected an options object')
  const { fetch: fetchImpl, ...rest } = options
  if (fetchImpl !== undefined && typeof fetchImpl !== 'function') fail('fetch must be a function')
  const check = checker(DojoClientOptionsSchema)
  if (!check.Check(rest)) {
    // Paths and rules only: a value could be the secret key.
    const found = [...check.Errors(rest)].map((e) => `${e.path.slice(1) || '(root)'} ${e.message.toLowerCase()}`)
    fail([...new Set(found)].join('; '))
  }
  let url: URL
  try {
    url = new URL(options.baseUrl)
  } catch {
    return fail('baseUrl is not a URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('baseUrl must be http(s)')
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') fail('baseUrl must have no query, fragment or credentials')
  const baseUrl = url.toString().replace(/\/+$/, '')

  let environment: DojoEnvironment
  if (options.secretKey.startsWith('sk_sandbox_')) environment = 'sandbox'
  else if (options.secretKey.startsWith('sk_prod_')) environment = 'production'
  else return fail('secretKey must start with sk_sandbox_ or sk_prod_')
  if (environment === 'production' && baseUrl !== DOJO_API_URL) {
    fail(`a production key (sk_prod_…) may only be used with ${DOJO_API_URL}, not ${baseUrl}: other base URLs are emulators and take sandbox keys only`)
  }
  return { baseUrl, environment }
}

function pathId (id: string, name: string): string {
  if (typeof id !== 'string' || id === '' || id.length > 200) {
    throw new DojoError(DojoErrorCodes.invalidInput, `${name} must be a non-empty string`)
  }
  return encodeURIComponent(id)
}

function isoDate (value: Date | string | undefined, name: string): string {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined
  if (date === undefined || Number.isNaN(date.getTime())) throw new DojoError(DojoErrorCodes.invalidInput, `${name} must be a Date or an ISO date-time`)
  return date.toISOString()
}

// Module constants, so their compiled checkers are built once.
const ReferenceSchema = Type.String({ minLength: 1, maxLength: 60 })
const MaxPagesSchema = Type.Integer({ minimum: 1, maximum: 1000 })

function input<S extends TSchema> (schema: S, value: unknown, what: string): Static<S> {
  const check = checker(schema)
  if (check.Check(value)) return value
  const found = problems(check, value, 10)
  throw new DojoError(DojoErrorCodes.invalidInput, `invalid ${what}, nothing was sent: ${found.join('; ')}`, { details: { problems: found } })
}
