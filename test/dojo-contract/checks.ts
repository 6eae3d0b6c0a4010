// The one set of contract checks: the tests (test/dojo-contract.test.ts) and the report
// (pnpm contract) both run these, against each of Dojo's published specs.
//
// Client side: every public method of dojo-client is pointed at a recording HTTP server that
// answers with the spec's examples; each request is matched to an operation and checked
// (method, path template, headers, query, body). Sandbox side: the real sandbox (a process)
// is driven with requests built from the spec's examples (both casings) and from each request
// schema (required fields only, and every field); every answer, 2xx and error, is checked
// against the documented response for its status.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createDojoClient, DojoErrorCodes, isDojoError, type DojoClient } from '@paylinks/dojo-client'
import { onTeardown, startSandbox, type SandboxProcess, type TestContext } from '@paylinks/test-kit'
import type { Method, Operation, Schema, Spec } from './spec.js'

/** The operations a payment-links merchant uses: these must be served, implemented and pass. */
export const PAYMENT_LINK_OPERATIONS = [
  'PaymentIntents_CreatePaymentIntent', 'PaymentIntents_Get', 'PaymentIntents_Delete', 'Captures_Create',
  'Refunds_Create', 'PaymentIntents_GetRefundById', 'Reversal_Create', 'PaymentIntents_Search',
  'PaymentIntents_RefreshClientSessionSecret', 'Receipt_Create',
  'Webhooks_GetAllWebhooks', 'Webhooks_GetAlSubscriptions', 'Webhooks_Subscribe', 'Webhooks_SubscribeUpdate',
  'Webhooks_DeleteSubscriptions', 'Webhooks_GetSecrets', 'Webhooks_GenerateSecret', 'Webhooks_ActivateSecret',
  'Webhooks_DeleteSecret'
] as const

/** One request checked: which side, what was tried, and what broke the spec (empty: passed). */
export interface Finding { side: 'client' | 'sandbox', operationId: string, case: string, errors: string[], notes: string[] }

export interface OperationResult {
  operation: Operation
  paymentLinks: boolean
  served: boolean
  implemented: boolean
  findings: Finding[]
  result: 'pass' | 'fail' | 'n.a.'
  /** Short reasons on failure. */
  reasons: string[]
}

export interface ContractResult { spec: Spec, operations: OperationResult[], failures: number }

/** Run every check against one spec; the sandbox process is shared (start it with `startContractSandbox`). */
export async function runContract (t: TestContext, spec: Spec, sandbox: SandboxProcess): Promise<ContractResult> {
  const served = await servedOperations(sandbox, spec)
  const client = await checkClient(t, spec)
  const sandboxFindings = await checkSandbox(sandbox, spec, served)
  const operations = spec.operations.map((operation): OperationResult => {
    const id = operation.operationId
    const findings = [...client.findings, ...sandboxFindings].filter((f) => f.operationId === id)
    const paymentLinks = (PAYMENT_LINK_OPERATIONS as readonly string[]).includes(id)
    const isServed = served.has(id)
    const implemented = client.implemented.has(id)
    const reasons = [...new Set(findings.flatMap((f) => f.errors.map((e) => `${f.side} ${f.case}: ${e}`)))]
    if (paymentLinks && !isServed) reasons.push('not served by the sandbox')
    if (paymentLinks && !implemented) reasons.push('not implemented by dojo-client')
    const result = reasons.length > 0 ? 'fail' : findings.length === 0 ? 'n.a.' : 'pass'
    return { operation, paymentLinks, served: isServed, implemented, findings, result, reasons }
  })
  // A request the client sent that matches no operation of the spec.
  const stray = client.findings.filter((f) => f.operationId === '')
  return { spec, operations, failures: operations.filter((o) => o.result === 'fail').length + stray.length }
}

/** The sandbox as a process on a free port, killed at teardown. */
export async function startContractSandbox (t: TestContext): Promise<SandboxProcess> {
  return await startSandbox(t, { WEBHOOK_RETRY_DELAYS_MS: '50', WEBHOOK_TIMEOUT_MS: '200' })
}

// ------------------------------------------------------------------ matching and checking

/** The operation a request is for: method and path template (literal segments win). */
export function matchOperation (spec: Spec, method: string, pathname: string): { operation: Operation, params: Record<string, string> } | undefined {
  const segments = pathname.split('/').filter((s) => s !== '')
  let best: { operation: Operation, params: Record<string, string>, literals: number } | undefined
  for (const operation of spec.operations) {
    if (operation.method !== method.toLowerCase()) continue
    const template = operation.path.split('/').filter((s) => s !== '')
    if (template.length !== segments.length) continue
    const params: Record<string, string> = {}
    let literals = 0
    const ok = template.every((part, i) => {
      const m = /^\{(.+)\}$/.exec(part)
      if (m !== null) { params[m[1]!] = decodeURIComponent(segments[i]!); return true }
      literals++
      return part === segments[i]
    })
    if (ok && (best === undefined || literals > best.literals)) best = { operation, params, literals }
  }
  return best
}

/** What breaks the operation's request rules: parameters (headers included), security, body. */
export function checkRequest (spec: Spec, operation: Operation, request: { params: Record<string, string>, query: URLSearchParams, headers: IncomingHttpHeaders, body: string }): string[] {
  const errors: string[] = []
  for (const p of operation.parameters) {
    const raw = p.in === 'path' ? request.params[p.name] : p.in === 'query' ? request.query.get(p.name) ?? undefined : p.in === 'header' ? request.headers[p.name.toLowerCase()] : undefined
    if (raw === undefined) { if (p.required) errors.push(`${p.in} parameter ${p.name} is required`); continue }
    if (p.schema === undefined || Array.isArray(raw)) continue
    const value = coerce(p.schema, raw)
    for (const e of spec.validate(p.schema, value)) errors.push(`${p.in} parameter ${p.name} ${e.replace('(root): ', '')}`)
  }
  for (const name of request.query.keys()) {
    if (!operation.parameters.some((p) => p.in === 'query' && p.name === name)) errors.push(`query parameter ${name} is not in the spec`)
  }
  if (operation.authorization) {
    const auth = request.headers.authorization
    // Dojo: `Authorization: Basic <secret key>`, the raw key, not base64.
    if (auth === undefined || !/^Basic sk_(sandbox|prod)_\S+$/.test(auth)) errors.push('header Authorization must be "Basic sk_…"')
  }
  if (operation.request === undefined) {
    if (request.body !== '') errors.push('a body was sent to an operation that takes none')
  } else if (request.body === '') {
    if (operation.request.required) errors.push('the request body is required')
  } else {
    if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) errors.push('content-type must be application/json')
    let body: unknown
    try { body = JSON.parse(request.body) } catch { errors.push('the body is not JSON') }
    if (body !== undefined) errors.push(...spec.validate(operation.request.schema, body).map((e) => `body ${e}`))
  }
  return errors
}

/** What breaks the documented response for this status (an undocumented 4xx must be ProblemDetails). */
export function checkResponse (spec: Spec, operation: Operation, status: number, body: string): { errors: string[], notes: string[] } {
  const documented = operation.responses[String(status)]
  const notes: string[] = []
  let schema: Schema | undefined
  if (documented !== undefined) schema = documented.schema
  else if (status >= 400 && status < 500) {
    notes.push(`${status} is not listed by the spec: checked as ProblemDetails`)
    schema = spec.schemas.ProblemDetails
  } else return { errors: [`status ${status} is not documented`], notes }
  if (schema === undefined) return { errors: body === '' ? [] : [`status ${status} documents no body, got one`], notes }
  let value: unknown
  try { value = JSON.parse(body) } catch { return { errors: [`status ${status}: the body is not JSON`], notes } }
  return { errors: spec.validate(schema, value).map((e) => `${status} ${e}`), notes }
}

function coerce (schema: Schema, raw: string): unknown {
  const types = ([] as unknown[]).concat(schema.type ?? schema.anyOf?.map((s: Schema) => s.type) ?? []).flat()
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true'
  if ((types.includes('integer') || types.includes('number')) && raw !== '' && !Number.isNaN(Number(raw))) return Number(raw)
  return raw
}

/** A body's keys matched to a schema's properties case-insensitively, as ASP.NET binds them. */
export function camelKeys (value: unknown, schema: Schema | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => camelKeys(v, schema?.items))
  if (value === null || typeof value !== 'object' || schema === undefined) return value
  const variants = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])] as Schema[]
  const properties = Object.assign({}, ...variants.map((s) => s.properties ?? {})) as Record<string, Schema>
  const names = Object.keys(properties)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => {
    const name = names.find((n) => n.toLowerCase() === k.toLowerCase()) ?? k
    return [name, camelKeys(v, properties[name])]
  }))
}

// ------------------------------------------------------------------ building requests from a schema

// Values a schema cannot tell: Dojo's domain rules (currencies, amounts the state allows,
// subscribable events, a timespan within Dojo's limits).
const HINTS: Record<string, unknown> = {
  currencyCode: 'GBP',
  value: 1000,
  amount: 100,
  tipsAmount: null,
  events: ['payment_intent.status_updated'],
  url: 'https://merchant.example/dojo-events',
  emails: ['customer@example.com'],
  autoExpireIn: '00:05:00',
  autoExpireAction: 'Release',
  captureMode: 'Manual',
  statuses: ['Created', 'Captured'],
  // A cursor is opaque: only the sandbox's own can be passed back.
  before: undefined,
  after: undefined,
  limit: 10,
  setupIntentId: undefined,
  savedCardId: undefined,
  secret: undefined
}

/** A value for a schema: `all` adds every optional property, otherwise only the required ones. */
export function sample (schema: Schema | undefined, all: boolean, name = ''): unknown {
  if (schema === undefined) return {}
  if (name in HINTS && fits(schema, HINTS[name])) return HINTS[name]
  if (schema.example !== undefined && schema.type !== 'object' && schema.type !== 'array') return schema.example
  if (schema.enum !== undefined) return schema.enum.find((v: unknown) => v !== null)
  const variant = ((schema.anyOf ?? schema.oneOf) as Schema[] | undefined)?.find((s) => s.type !== 'null')
  if (variant !== undefined) return sample({ ...variant, ...(schema.properties === undefined ? {} : { properties: schema.properties }) }, all, name)
  const type = Array.isArray(schema.type) ? schema.type.find((x: string) => x !== 'null') : schema.type
  if (type === 'object' || schema.properties !== undefined) {
    const out: Record<string, unknown> = {}
    const required = (schema.required ?? []) as string[]
    for (const [key, sub] of Object.entries<Schema>(schema.properties ?? {})) {
      if (!all && !required.includes(key)) continue
      const value = sample(sub, all, key)
      if (value !== undefined) out[key] = value
    }
    if (schema.properties === undefined && typeof schema.additionalProperties === 'object') out.key = sample(schema.additionalProperties, all)
    return out
  }
  if (type === 'array') return [sample(schema.items, all)]
  if (type === 'boolean') return false
  if (type === 'integer' || type === 'number') return schema.minimum ?? 1
  if (type === 'string') {
    switch (schema.format) {
      case 'date-time': return new Date(Date.now() + 86_400_000).toISOString()
      case 'date': return '2026-02-27'
      case 'uri': return 'https://merchant.example/page'
      case 'email': return 'customer@example.com'
      case 'timespan': return '00:05:00'
      default: return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
    }
  }
  return undefined
}

function fits (schema: Schema, value: unknown): boolean {
  if (value === undefined || value === null) return true
  const types = ([] as unknown[]).concat(schema.type ?? [], ...((schema.anyOf ?? schema.oneOf ?? []) as Schema[]).map((s) => s.type ?? (s.properties === undefined ? [] : 'object'))).flat()
  if (types.length === 0) return typeof value === 'object' ? schema.properties !== undefined : true
  const kind = Array.isArray(value) ? 'array' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value
  return types.includes(kind) || (kind === 'integer' && types.includes('number'))
}

// ------------------------------------------------------------------ client side

interface Recording { method: string, url: string, headers: IncomingHttpHeaders, body: string }

/** Every public method of dojo-client, each a call against the recording server. */
function clientCalls (ids: { intent: string, subscription: string, secret: string }): Array<[string, (c: DojoClient) => Promise<unknown>]> {
  const money = { value: 1000, currencyCode: 'GBP' as const }
  return [
    ['createPaymentIntent (required fields)', (c) => c.createPaymentIntent({ amount: money, reference: 'Order 234' })],
    ['createPaymentIntent (many fields)', (c) => c.createPaymentIntent({
      amount: money,
      reference: 'Order 234',
      description: 'Demo payment intent',
      captureMode: 'Manual',
      expireAt: new Date(Date.now() + 86_400_000).toISOString(),
      customer: { emailAddress: 'customer@example.com', phoneNumber: '+441234567890' },
      config: { title: 'Mugs', redirectUrl: 'https://shop.example/paid', cancelUrl: 'https://shop.example/cancel', customerEmail: { collectionRequired: true }, details: { showTotal: true, showReference: true } },
      itemLines: [{ id: 'l1', name: 'Mug', quantity: 2, amountTotal: money }],
      metadata: { orderId: 'o-1' },
      paymentSource: 'payment-links'
    })],
    ['createPaymentIntent (every field)', (c) => c.createPaymentIntent({
      amount: money,
      reference: 'Order 235',
      description: 'Demo payment intent',
      captureMode: 'Manual',
      tipsAmount: { value: 100, currencyCode: 'GBP' },
      autoExpireIn: '00:05:00',
      autoExpireAction: 'Capture',
      customer: { id: 'cus_1', emailAddress: 'customer@example.com', phoneNumber: '+441234567890', secret: 's', savedCardId: 'card_1' },
      billingAddress: { address1: '1 High St', city: 'London', postcode: 'N1 1AA', countryCode: 'GB' },
      shippingDetails: { name: 'A Person', deliveryNotes: 'door', address: { countryCode: 'GB', city: 'London' } },
      cardHolderNotPresent: false,
      config: { billingAddress: { collectionRequired: true }, shippingDetails: { collectionRequired: false }, payment: { customAmountAllowed: false, tipsAllowed: true }, customerEmail: {} },
      requestSecurity: { userAgent: 'Mozilla/5.0', ipAddress: '192.0.2.1', device: 'phone' },
      itemLines: [{ id: 'l1', name: 'Mug', quantity: 1, category: 'kitchen', plu: 'p1', amountTotal: money }],
      taxLines: [{ id: 't1', caption: 'VAT', subCaption: '20%', affectedPlu: 'p1', amountTotal: { value: 200, currencyCode: 'GBP' } }],
      paymentMethods: ['Card', 'Wallet'],
      actionLink: { url: 'https://shop.example/invoice.pdf', label: 'Invoice', action: 'DownloadFile', fileName: 'invoice.pdf' },
      setupIntentId: 'si_1',
      orderDetails: { availabilityDate: new Date(Date.now() + 86_400_000).toISOString(), isUpdate: false, id: 'o-1', externalId: 'e-1' },
      cashbackAmount: { value: 0, currencyCode: 'GBP' },
      serviceChargeAmount: { value: 50, currencyCode: 'GBP' },
      generateRemoteToken: false,
      isNotOnlineCheckout: false
    })],
    ['getPaymentIntent', (c) => c.getPaymentIntent(ids.intent)],
    ['getPaymentIntent (returnCanceled)', (c) => c.getPaymentIntent(ids.intent, { returnCanceled: true })],
    ['cancelPaymentIntent', (c) => c.cancelPaymentIntent(ids.intent)],
    ['capturePaymentIntent', (c) => c.capturePaymentIntent(ids.intent, { amount: 100, tipsAmount: 10 })],
    ['refundPaymentIntent', (c) => c.refundPaymentIntent(ids.intent, { amount: 100, previousTransactionId: 't-1', refundReason: 'broken', notes: 'n', idempotencyKey: 'refund-1' })],
    ['getRefund', (c) => c.getRefund('rfnd_0000000000000000000000')],
    ['sendReceipt', (c) => c.sendReceipt(ids.intent, { emails: ['customer@example.com'] })],
    ['reversePaymentIntent', (c) => c.reversePaymentIntent(ids.intent)],
    ['searchPaymentIntents (empty)', (c) => c.searchPaymentIntents()],
    ['searchPaymentIntents (every field)', (c) => c.searchPaymentIntents({ statuses: ['Created'], startDate: '2026-01-01T00:00:00.000Z', endDate: '2026-02-01T00:00:00.000Z', cursor: { limit: 20, after: 'abc' } })],
    ['findPaymentIntentsByReference', (c) => c.findPaymentIntentsByReference('Order 234', { createdFrom: new Date(Date.now() - 60_000) })],
    ['refreshClientSessionSecret', (c) => c.refreshClientSessionSecret(ids.intent)],
    ['listWebhookEvents', (c) => c.listWebhookEvents()],
    ['createWebhookSubscription', (c) => c.createWebhookSubscription({ events: ['payment_intent.status_updated'], url: 'https://merchant.example/hooks', description: 'paylinks' })],
    ['listWebhookSubscriptions', (c) => c.listWebhookSubscriptions()],
    ['getWebhookSubscription', (c) => c.getWebhookSubscription(ids.subscription)],
    ['updateWebhookSubscription', (c) => c.updateWebhookSubscription(ids.subscription, { events: ['payment_intent.status_updated'], url: 'https://merchant.example/hooks2', description: 'paylinks' })],
    ['deleteWebhookSubscription', (c) => c.deleteWebhookSubscription(ids.subscription)],
    ['listWebhookSecrets', (c) => c.listWebhookSecrets(ids.subscription)],
    ['createWebhookSecret', (c) => c.createWebhookSecret(ids.subscription)],
    ['activateWebhookSecret', (c) => c.activateWebhookSecret(ids.subscription, ids.secret)],
    ['deleteWebhookSecret', (c) => c.deleteWebhookSecret(ids.subscription, ids.secret)]
  ]
}

// Answers for operations whose spec shows no example response (each checked against the spec too).
function fallbackAnswer (spec: Spec, operation: Operation, params: Record<string, string>): unknown {
  const intent = firstExample(spec, 'PaymentIntents_Get')
  switch (operation.operationId) {
    case 'Captures_Create': return { message: 'Capture successful', captureId: 'cp_sandbox_0000000000000000000000' }
    case 'Refunds_Create':
    case 'PaymentIntents_GetRefundById': return { paymentIntentId: params.paymentIntentId ?? 'pi_sandbox_RBMHTJ4fIkmSppDILZVCGw', refundId: params.refundId ?? 'rfnd_0000000000000000000000', refundReason: 'broken', notes: 'n' }
    case 'Reversal_Create': return { message: 'Reversal successful', reversalId: 'rvs_0000000000000000000000' }
    case 'PaymentIntents_Search': return { data: intent === undefined ? [] : [intent], before: null, after: null }
    case 'Webhooks_GetAlSubscriptions': return [firstExample(spec, 'Webhooks_Subscribe')].filter((x) => x !== undefined)
    default: return undefined
  }
}

function firstExample (spec: Spec, operationId: string, status = '200'): unknown {
  const op = spec.operations.find((o) => o.operationId === operationId)
  return Object.values(op?.responses[status]?.examples ?? {})[0]
}

async function checkClient (t: TestContext, spec: Spec): Promise<{ findings: Finding[], implemented: Set<string> }> {
  const subscriptions = (firstExample(spec, 'Webhooks_GetAlSubscriptions') ?? fallbackAnswer(spec, spec.operations.find((o) => o.operationId === 'Webhooks_GetAlSubscriptions')!, {})) as Array<{ id: string, secrets: Array<{ id: string }> }> | undefined
  const intent = firstExample(spec, 'PaymentIntents_Get') as { id: string } | undefined
  const ids = { intent: intent?.id ?? 'pi_sandbox_RBMHTJ4fIkmSppDILZVCGw', subscription: subscriptions?.[0]?.id ?? 'ws_1', secret: subscriptions?.[0]?.secrets[0]?.id ?? 'sc_1' }
  const recordings: Recording[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      recordings.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const url = new URL(req.url ?? '/', 'http://x')
      const match = matchOperation(spec, req.method ?? '', url.pathname)
      if (match === undefined) { res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 404, title: 'Not Found' })); return }
      const ok = Object.keys(match.operation.responses).find((s) => s.startsWith('2')) ?? '200'
      const answer = Object.values(match.operation.responses[ok]?.examples ?? {})[0] ?? fallbackAnswer(spec, match.operation, match.params)
      // A canceled intent for the cancel call, a reversed one for the reversal: the client reads state back.
      if (answer === undefined || ok === '204') { res.writeHead(Number(ok)).end(); return }
      res.writeHead(Number(ok), { 'content-type': 'application/json' }).end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const client = createDojoClient({ baseUrl, secretKey: `sk_sandbox_${randomBytes(12).toString('base64url')}`, apiVersion: spec.version, retries: 0, timeoutMs: 5000 })
  onTeardown(t, () => client.close())

  const findings: Finding[] = []
  const implemented = new Set<string>()
  for (const [name, call] of clientCalls(ids)) {
    const from = recordings.length
    // The call's outcome against Dojo's example answers: the client must accept them (a
    // DOJO_RESPONSE means its response schema is stricter than Dojo's); other refusals (the
    // example intent is not Canceled, say) are not the contract's concern.
    const outcome = await call(client).then(() => undefined, (error: unknown) => error)
    const sent = recordings.slice(from)
    if (isDojoError(outcome, DojoErrorCodes.response)) findings.push({ side: 'client', operationId: sent.length === 0 ? '' : matchOperation(spec, sent[0]!.method, new URL(sent[0]!.url, baseUrl).pathname)?.operation.operationId ?? '', case: `${name} (answer)`, errors: [`refused Dojo's example answer: ${outcome.message.slice(0, 200)}`], notes: [] })
    if (sent.length === 0) findings.push({ side: 'client', operationId: '', case: name, errors: ['sent nothing'], notes: [] })
    for (const r of sent) {
      const url = new URL(r.url, baseUrl)
      const match = matchOperation(spec, r.method, url.pathname)
      if (match === undefined) { findings.push({ side: 'client', operationId: '', case: name, errors: [`${r.method} ${url.pathname} is not an operation of the spec`], notes: [] }); continue }
      implemented.add(match.operation.operationId)
      findings.push({ side: 'client', operationId: match.operation.operationId, case: name, errors: checkRequest(spec, match.operation, { params: match.params, query: url.searchParams, headers: r.headers, body: r.body }), notes: [] })
    }
  }
  // The answers played to the client are the spec's own (fallbacks included): they must pass too.
  for (const op of spec.operations) {
    // The subscription list is Dojo's own Subscribe example, whose secrets' createdAt has no time zone (not RFC 3339).
    if (op.operationId === 'Webhooks_GetAlSubscriptions') continue
    const fallback = fallbackAnswer(spec, op, {})
    if (fallback !== undefined && op.responses['200']?.schema !== undefined) {
      const errors = spec.validate(op.responses['200'].schema, fallback)
      if (errors.length > 0) findings.push({ side: 'client', operationId: op.operationId, case: 'recorded answer', errors, notes: [] })
    }
  }
  return { findings, implemented }
}

// ------------------------------------------------------------------ sandbox side

/** Operations the sandbox serves, read from its own OpenAPI (/docs/json), controls left out. */
async function servedOperations (sandbox: SandboxProcess, spec: Spec): Promise<Set<string>> {
  const doc = await (await fetch(`${sandbox.url}/docs/json`)).json() as { paths: Record<string, Record<string, { tags?: string[] }>> }
  const served = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op.tags?.includes('sandbox-controls') === true) continue
      const match = matchOperation(spec, method, path.replace(/\{[^}]+\}/g, 'x'))
      if (match !== undefined && match.operation.path.split('/').length === path.split('/').length) served.add(match.operation.operationId)
    }
  }
  return served
}

interface Api {
  key: string
  send: (method: Method, path: string, options?: { body?: unknown, headers?: Record<string, string>, query?: string, noAuth?: boolean }) => Promise<{ status: number, text: string, json: any }>
}

interface Case { name: string, path: Record<string, string>, body?: unknown, headers?: Record<string, string>, query?: string, noAuth?: boolean, expect: 'success' | 'error' }

/** What to do for each operation: states to set up, then the requests to check. */
type Scenario = (api: Api, sandbox: SandboxProcess, op: Operation) => Promise<Case[]>

const KNOWN_UNKNOWN = { paymentIntentId: 'pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA', subscriptionId: 'ws_AAAAAAAAAAAAAAAAAAAAAA', secretId: 'sc_AAAAAAAAAAAAAAAAAAAAAA', refundId: 'rfnd_AAAAAAAAAAAAAAAAAAAAAA' }

async function createIntent (api: Api, body: Record<string, unknown> = {}): Promise<any> {
  const res = await api.send('post', '/payment-intents', { body: { amount: { value: 1000, currencyCode: 'GBP' }, reference: 'Order 1', ...body } })
  if (res.status !== 200) throw new Error(`create failed: ${res.status} ${res.text}`)
  return res.json
}

async function paidIntent (api: Api, sandbox: SandboxProcess, captureMode: 'Auto' | 'Manual' = 'Auto'): Promise<string> {
  const intent = await createIntent(api, { captureMode })
  await sandbox.pay(intent.id)
  return intent.id
}

async function subscription (api: Api): Promise<any> {
  const res = await api.send('post', '/webhooks', { body: { events: ['payment_intent.status_updated'], url: 'https://merchant.example/dojo-events' } })
  if (res.status !== 200) throw new Error(`subscribe failed: ${res.status} ${res.text}`)
  return res.json
}

function bodyCases (op: Operation, path: Record<string, string> | (() => Promise<Record<string, string>>)): Promise<Case[]> {
  const at = typeof path === 'function' ? path : async () => path
  return (async () => {
    const cases: Case[] = []
    const schema = op.request?.schema
    for (const [name, example] of Object.entries(op.request?.examples ?? {})) {
      cases.push({ name: `example ${name}`, path: await at(), body: example, expect: 'success' })
      const camel = camelKeys(example, schema)
      if (JSON.stringify(camel) !== JSON.stringify(example)) cases.push({ name: `example ${name} in camelCase`, path: await at(), body: camel, expect: 'success' })
    }
    if (schema !== undefined) {
      cases.push({ name: 'required fields', path: await at(), body: sample(schema, false), expect: 'success' })
      cases.push({ name: 'every field', path: await at(), body: sample(schema, true), expect: 'success' })
      cases.push({ name: 'an unknown field', path: await at(), body: { ...(sample(schema, false) as object), notInTheSpec: 1 }, expect: 'error' })
    }
    return cases
  })()
}

const SCENARIOS: Record<string, Scenario> = {
  PaymentIntents_CreatePaymentIntent: async (_api, _s, op) => bodyCases(op, {}),
  PaymentIntents_Get: async (api) => {
    const intent = await createIntent(api)
    const canceled = await createIntent(api)
    await api.send('delete', `/payment-intents/${canceled.id as string}`)
    return [
      { name: 'an intent', path: { paymentIntentId: intent.id }, expect: 'success' },
      { name: 'a canceled intent with returnCanceled', path: { paymentIntentId: canceled.id }, query: 'returnCanceled=true', expect: 'success' },
      { name: 'a canceled intent', path: { paymentIntentId: canceled.id }, expect: 'error' }
    ]
  },
  PaymentIntents_Delete: async (api) => [
    { name: 'a Created intent', path: { paymentIntentId: (await createIntent(api)).id }, expect: 'success' }
  ],
  Captures_Create: async (api, sandbox, op) => [
    ...await bodyCases(op, async () => ({ paymentIntentId: await paidIntent(api, sandbox, 'Manual') })),
    { name: 'an Auto intent', path: { paymentIntentId: await paidIntent(api, sandbox) }, body: { amount: 100 }, expect: 'error' }
  ],
  Refunds_Create: async (api, sandbox, op) => {
    const cases = await bodyCases(op, async () => ({ paymentIntentId: await paidIntent(api, sandbox) }))
    let n = 0
    return [
      ...cases.map((c) => ({ ...c, headers: { idempotencyKey: `refund-${++n}` } })),
      { name: 'a Created intent', path: { paymentIntentId: (await createIntent(api)).id }, body: { amount: 100 }, headers: { idempotencyKey: 'r' }, expect: 'error' as const },
      { name: 'no idempotencyKey', path: { paymentIntentId: await paidIntent(api, sandbox) }, body: { amount: 100 }, expect: 'error' as const }
    ]
  },
  PaymentIntents_GetRefundById: async (api, sandbox) => {
    const id = await paidIntent(api, sandbox)
    const refund = await api.send('post', `/payment-intents/${id}/refunds`, { body: { amount: 100 }, headers: { idempotencyKey: 'lookup' } })
    return [{ name: 'a refund', path: { refundId: refund.json?.refundId ?? 'none' }, expect: 'success' }]
  },
  Reversal_Create: async (api, sandbox) => [
    { name: 'a Captured intent', path: { paymentIntentId: await paidIntent(api, sandbox) }, expect: 'success' },
    { name: 'an Authorized intent', path: { paymentIntentId: await paidIntent(api, sandbox, 'Manual') }, expect: 'success' },
    { name: 'a Created intent', path: { paymentIntentId: (await createIntent(api)).id }, expect: 'error' }
  ],
  PaymentIntents_Search: async (api, _s, op) => {
    await createIntent(api)
    await createIntent(api)
    const page = await api.send('post', '/payment-intents/search', { body: { cursor: { limit: 1 } } })
    return [
      ...await bodyCases(op, {}),
      { name: 'the next page', path: {}, body: { cursor: { limit: 1, after: page.json?.after } }, expect: 'success' }
    ]
  },
  PaymentIntents_RefreshClientSessionSecret: async (api) => [
    { name: 'an intent', path: { paymentIntentId: (await createIntent(api)).id }, expect: 'success' }
  ],
  Receipt_Create: async (api, sandbox, op) => bodyCases(op, async () => ({ paymentIntentId: await paidIntent(api, sandbox) })),
  Webhooks_GetAllWebhooks: async () => [{ name: 'the catalogue', path: {}, expect: 'success' }],
  Webhooks_GetAlSubscriptions: async (api) => { await subscription(api); return [{ name: 'the list', path: {}, expect: 'success' }] },
  Webhooks_Subscribe: async (_api, _s, op) => bodyCases(op, {}),
  Webhooks_SubscribeUpdate: async (api, _s, op) => bodyCases(op, async () => ({ subscriptionId: (await subscription(api)).id })),
  Webhooks_DeleteSubscriptions: async (api) => [{ name: 'a subscription', path: { subscriptionId: (await subscription(api)).id }, expect: 'success' }],
  Webhooks_GetSecrets: async (api) => [{ name: 'a subscription', path: { subscriptionId: (await subscription(api)).id }, expect: 'success' }],
  Webhooks_GenerateSecret: async (api) => [{ name: 'a subscription', path: { subscriptionId: (await subscription(api)).id }, expect: 'success' }],
  Webhooks_ActivateSecret: async (api) => {
    const s = await subscription(api)
    const added = await api.send('post', `/webhooks/${s.id as string}/secrets`)
    const inactive = (added.json?.secrets as Array<{ id: string, isActive: boolean }> | undefined)?.find((x) => !x.isActive)?.id ?? 'none'
    return [{ name: 'a new secret', path: { subscriptionId: s.id, secretId: inactive }, expect: 'success' }]
  },
  Webhooks_DeleteSecret: async (api) => {
    const s = await subscription(api)
    const added = await api.send('post', `/webhooks/${s.id as string}/secrets`)
    const inactive = (added.json?.secrets as Array<{ id: string, isActive: boolean }> | undefined)?.find((x) => !x.isActive)?.id ?? 'none'
    return [
      { name: 'an inactive secret', path: { subscriptionId: s.id, secretId: inactive }, expect: 'success' },
      { name: 'the active secret', path: { subscriptionId: s.id, secretId: s.secrets[0].id }, expect: 'error' }
    ]
  }
}

async function checkSandbox (sandbox: SandboxProcess, spec: Spec, served: Set<string>): Promise<Finding[]> {
  const findings: Finding[] = []
  for (const op of spec.operations) {
    if (!served.has(op.operationId)) continue
    const api = apiFor(sandbox, spec)
    const scenario = SCENARIOS[op.operationId]
    if (scenario === undefined) { findings.push({ side: 'sandbox', operationId: op.operationId, case: 'scenario', errors: ['served, but the contract has no scenario for it'], notes: [] }); continue }
    let cases: Case[]
    try {
      cases = await scenario(api, sandbox, op)
    } catch (error) {
      findings.push({ side: 'sandbox', operationId: op.operationId, case: 'set-up', errors: [(error as Error).message.slice(0, 300)], notes: [] })
      continue
    }
    // Errors every operation can give: no key, and ids it does not know.
    const unknownIds = Object.fromEntries(op.parameters.filter((p) => p.in === 'path').map((p) => [p.name, KNOWN_UNKNOWN[p.name as keyof typeof KNOWN_UNKNOWN] ?? 'unknown']))
    const base = cases[0]
    cases.push({ name: 'no Authorization', path: base?.path ?? unknownIds, ...(base?.body === undefined ? {} : { body: base.body }), noAuth: true, expect: 'error' })
    if (Object.keys(unknownIds).length > 0) cases.push({ name: 'unknown ids', path: unknownIds, ...(base?.body === undefined ? {} : { body: base.body }), ...(base?.headers === undefined ? {} : { headers: { idempotencyKey: 'unknown' } }), expect: 'error' })
    for (const c of cases) {
      const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(c.path[name] ?? 'missing'))
      const res = await api.send(op.method, path, { ...(c.body === undefined ? {} : { body: c.body }), ...(c.headers === undefined ? {} : { headers: c.headers }), ...(c.query === undefined ? {} : { query: c.query }), ...(c.noAuth === true ? { noAuth: true } : {}) })
      const { errors, notes } = checkResponse(spec, op, res.status, res.text)
      const ok = res.status >= 200 && res.status < 300
      if (c.expect === 'success' && !ok) errors.unshift(`refused with ${res.status}: ${JSON.stringify(res.json?.errors ?? res.json?.detail ?? res.text).slice(0, 240)}`)
      if (c.expect === 'error' && ok) errors.unshift(`accepted with ${res.status}, expected a refusal`)
      findings.push({ side: 'sandbox', operationId: op.operationId, case: c.name, errors, notes })
    }
  }
  return findings
}

function apiFor (sandbox: SandboxProcess, spec: Spec): Api {
  const key = `sk_sandbox_${randomBytes(12).toString('base64url')}`
  return {
    key,
    async send (method, path, options = {}) {
      const res = await fetch(`${sandbox.url}${path}${options.query === undefined ? '' : `?${options.query}`}`, {
        method: method.toUpperCase(),
        headers: {
          ...(options.noAuth === true ? {} : { authorization: `Basic ${key}` }),
          version: spec.version,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
      })
      const text = await res.text()
      let json: unknown
      try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
      return { status: res.status, text, json }
    }
  }
}
