import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib'
import type { Static, TSchema } from '@sinclair/typebox'
import pRetry, { AbortError, type Options as RetryOptions } from 'p-retry'
import { Pool } from 'undici'
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { checker, problems } from './check.js'
import { DojoError, DojoErrorCodes, type DojoErrorCode } from './errors.js'
import { ProblemDetailsSchema } from './schemas.js'

/**
 * When a failed attempt may be tried again.
 * - `always`: network errors, timeouts, 5xx and 429. For reads and for calls that are
 *   idempotent (refunds carry an idempotency key; PATCH/PUT/DELETE set a final state).
 * - `unsent`: only failures that prove Dojo did not act: the connection was never made
 *   (refused, DNS) or a 429. For calls that create something without an idempotency key.
 */
export type RetryPolicy = 'always' | 'unsent'

export interface HttpOptions {
  baseUrl: string
  secretKey: string
  apiVersion: string
  timeoutMs: number
  retries: number
  retryDelayMs: number
  /** Used instead of our own undici pool when given (tests, proxies). */
  fetch: typeof fetch | undefined
  /** Aborted by `close()`. */
  closed: AbortSignal
}

export interface Call<S extends TSchema | undefined> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: string
  query?: Record<string, string>
  body?: unknown
  headers?: Record<string, string>
  /** The 2xx body's schema; undefined for 204 answers. */
  schema: S
  retry: RetryPolicy
  /**
   * Called when an attempt after the first answers 404 or 409: our earlier attempt may have
   * done the work and lost the answer. Return `{ value }` to resolve with, or undefined.
   */
  recover?: (error: DojoError) => Promise<{ value: Result<S> } | undefined>
}

export type Result<S extends TSchema | undefined> = S extends TSchema ? Static<S> : undefined

// Codes that mean the request never left this machine: Dojo cannot have acted on it. Both
// transports raise the same ones (undici's request on the error, fetch on its `cause`). Not
// UND_ERR_SOCKET or ECONNRESET: the connection was up, the request may have been read.
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH'])

const REDIRECTS = new Set([301, 302, 303, 307, 308])

interface Answer { status: number, text: string }

/** One HTTP exchange of an attempt, body read in full; rejects on a network failure or timeout. */
type Transport = (url: URL, method: Call<undefined>['method'], headers: Record<string, string>, body: string | undefined) => Promise<Answer>

/** Sends one API call with a timeout per attempt and bounded, jittered retries. */
export function createHttp (options: HttpOptions) {
  const redact = (text: string): string => text.split(options.secretKey).join('[redacted]')

  const { transport, pool } = transportFor(options)
  // fetch adds its own user-agent and accept-encoding (and decompresses); request() adds none. We
  // ask for no compression (decode() still handles it) and keep the user-agent fetch sent.
  const fixedHeaders: Record<string, string> = {
    authorization: `Basic ${options.secretKey}`,
    version: options.apiVersion,
    accept: 'application/json',
    ...(pool === undefined ? {} : { 'accept-encoding': 'identity', 'user-agent': 'node' })
  }
  const retryOptions: RetryOptions = {
    retries: options.retries,
    minTimeout: options.retryDelayMs,
    maxTimeout: Math.max(options.retryDelayMs, 10_000),
    factor: 2,
    randomize: true,
    signal: options.closed,
    shouldRetry: ({ error }) => (error as Partial<DojoError>).code !== DojoErrorCodes.closed
  }

  // With tracing on (service-kit registered a propagator), each call is a CLIENT span over all its
  // attempts, and sends its traceparent (random ids only) so a Dojo that traces can join it.
  const traced = propagation.fields().length > 0

  async function sendTraced<S extends TSchema | undefined> (call: Call<S>): Promise<Result<S>> {
    const route = `${call.method} ${templateOf(call.path)}`
    const span = tracer.startSpan(`dojo ${route}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': call.method, 'url.template': templateOf(call.path), 'server.address': new URL(options.baseUrl).host, 'paylinks.dojo.retry': call.retry }
    })
    const ctx = trace.setSpan(context.active(), span)
    const headers: Record<string, string> = { ...call.headers }
    propagation.inject(ctx, headers)
    try {
      return await context.with(ctx, async () => await sendOnce({ ...call, headers }))
    } catch (error) {
      const dojoError = error as Partial<DojoError>
      if (dojoError.status !== undefined) span.setAttribute('http.response.status_code', dojoError.status)
      if (dojoError.attempts !== undefined) span.setAttribute('paylinks.dojo.attempts', dojoError.attempts)
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof dojoError.code === 'string' ? dojoError.code : 'error' })
      throw error
    } finally {
      span.end()
    }
  }

  const send = traced ? sendTraced : sendOnce

  async function sendOnce<S extends TSchema | undefined> (call: Call<S>): Promise<Result<S>> {
    const url = new URL(options.baseUrl + call.path)
    if (call.query !== undefined) for (const [k, v] of Object.entries(call.query)) url.searchParams.set(k, v)
    const operation = `${call.method} ${call.path}`
    // A fetch of the caller's gets its own headers object per call, as before; our pool never
    // changes the shared one.
    let headers = call.headers === undefined && pool !== undefined ? fixedHeaders : { ...fixedHeaders, ...call.headers }
    let body: string | undefined
    if (call.body !== undefined) {
      headers = { ...headers, 'content-type': 'application/json' }
      body = JSON.stringify(call.body)
    }
    let attempts = 0

    const attempt = async (): Promise<Result<S>> => {
      if (options.closed.aborted) throw new AbortError(closedError(operation))
      attempts++
      let status: number
      let text: string
      try {
        ({ status, text } = await transport(url, call.method, headers, body))
      } catch (error) {
        if (options.closed.aborted) throw new AbortError(closedError(operation))
        const timedOut = isTimeout(error)
        const unsent = !timedOut && UNSENT_CODES.has(causeCode(error) ?? '')
        const dojoError = new DojoError(timedOut ? DojoErrorCodes.timeout : DojoErrorCodes.unavailable,
          redact(timedOut
            ? `Dojo ${operation}: no answer within ${options.timeoutMs} ms (attempt ${attempts})`
            : `Dojo ${operation}: ${describe(error)} (attempt ${attempts})`),
          { cause: error, operation, attempts, outcomeUnknown: !unsent && call.method !== 'GET', details: { unsent } })
        if (call.retry === 'always' || unsent) throw dojoError
        throw new AbortError(dojoError)
      }

      if (status >= 200 && status < 300) return parseSuccess(call, operation, status, text, attempts)

      const dojoError = errorFromAnswer(operation, status, text, attempts, status >= 500 && call.method !== 'GET')
      const retryable = status === 429 || (status >= 500 && call.retry === 'always')
      if (retryable) throw dojoError
      if (attempts > 1 && (status === 404 || status === 409) && call.recover !== undefined) {
        const recovered = await call.recover(dojoError)
        if (recovered !== undefined) return recovered.value
      }
      throw new AbortError(dojoError)
    }

    const settle = (error: unknown): never => {
      if (options.closed.aborted && (error as Partial<DojoError>).code === undefined) throw closedError(operation)
      throw error
    }

    // Most calls succeed at once: make the first attempt bare, checking the closed signal before
    // and after it as p-retry does, and hand a failure to p-retry as if it were its own first
    // attempt, so the back-off, the retry count and shouldRetry are exactly p-retry's.
    if (options.closed.aborted) settle(options.closed.reason)
    let value: Result<S>
    try {
      value = await attempt()
    } catch (error) {
      if (error instanceof AbortError) return settle(error.originalError)
      let replayed = false
      return await pRetry(async () => {
        if (replayed) return await attempt()
        replayed = true
        throw error
      }, retryOptions).catch(settle)
    }
    if (options.closed.aborted) settle(options.closed.reason)
    return value
  }

  function parseSuccess<S extends TSchema | undefined> (call: Call<S>, operation: string, status: number, text: string, attempts: number): Result<S> {
    if (call.schema === undefined) return undefined as Result<S>
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch (error) {
      throw new AbortError(new DojoError(DojoErrorCodes.response, `Dojo ${operation} answered ${status} with a body that is not JSON`, { cause: error, status, operation, attempts }))
    }
    const check = checker(call.schema)
    if (!check.Check(data)) {
      const found = problems(check, data, 5)
      throw new AbortError(new DojoError(DojoErrorCodes.response, `Dojo ${operation} answered ${status} with an unexpected body: ${found.join('; ')}`, { status, operation, attempts, details: { problems: found } }))
    }
    return data as Result<S>
  }

  function errorFromAnswer (operation: string, status: number, text: string, attempts: number, outcomeUnknown: boolean): DojoError {
    let body: unknown
    try { body = JSON.parse(text) } catch { body = undefined }
    const problem = problemDetails.Check(body) ? body : undefined
    const details: Record<string, unknown> = problem !== undefined
      ? JSON.parse(redact(JSON.stringify(problem))) as Record<string, unknown>
      : { body: redact(text.slice(0, 500)) }
    const errors = problem?.errors ?? {}
    const fields = Object.entries(errors).map(([field, messages]) => `${field}: ${messages.join(' ')}`)
    const summary = [problem?.title, problem?.detail, ...fields].filter((x): x is string => typeof x === 'string' && x !== '').join(' | ')
    const message = redact(`Dojo ${operation} answered ${status}${summary === '' ? '' : `: ${summary}`}`)
    return new DojoError(codeFor(status), message, {
      status,
      operation,
      attempts,
      outcomeUnknown,
      details,
      errors: JSON.parse(redact(JSON.stringify(errors))) as Record<string, string[]>,
      ...(typeof problem?.traceId === 'string' ? { traceId: problem.traceId } : {})
    })
  }

  /** Destroys the pool: calls in flight fail (the caller has aborted `closed` first). */
  async function close (): Promise<void> {
    await pool?.destroy()
  }

  return { send, close }
}

const problemDetails = checker(ProblemDetailsSchema)

const tracer = trace.getTracer('@paylinks/dojo-client')

/** A path with its ids replaced (`/payment-intents/{id}/captures`): a span name of few values. */
function templateOf (path: string): string {
  return path.split('?')[0]!.split('/').map((segment) => /\d/.test(segment) ? '{id}' : segment).join('/')
}

// fetch (undici's WHATWG layer: web streams, two signals per attempt) costs noticeably more CPU
// per call than undici's own request() on a keep-alive pool, so that is the default transport.
function transportFor (options: HttpOptions): { transport: Transport, pool?: Pool } {
  const { fetch: fetchImpl, timeoutMs, closed } = options
  if (fetchImpl !== undefined) {
    return { transport: async (url, method, headers, body) => await fetchOnce(fetchImpl, url, method, headers, body, AbortSignal.any([AbortSignal.timeout(timeoutMs), closed])) }
  }
  // No headersTimeout/bodyTimeout: they time idle gaps, not the exchange. One timer per attempt
  // covers headers and body, as AbortSignal.timeout did. close() destroys the pool, which fails
  // every call in flight.
  const pool = new Pool(new URL(options.baseUrl).origin, { headersTimeout: 0, bodyTimeout: 0 })
  const transport: Transport = async (url, method, headers, body) => {
    const controller = new AbortController()
    const timer = setTimeout(abortOnTimeout, timeoutMs, controller)
    try {
      const answer = await pool.request({ path: url.pathname + url.search, method, headers, body, signal: controller.signal })
      if (REDIRECTS.has(answer.statusCode) && answer.headers.location !== undefined) {
        // fetch followed redirects (Dojo sends none): replay this attempt through fetch, under
        // the same timer, and the closed signal since fetch is not on our pool.
        await answer.body.dump()
        return await fetchOnce(globalThis.fetch, url, method, fetchHeaders(headers), body, AbortSignal.any([controller.signal, closed]))
      }
      const encoding = answer.headers['content-encoding']
      const text = encoding === undefined ? await answer.body.text() : decode(Buffer.from(await answer.body.arrayBuffer()), String(encoding))
      return { status: answer.statusCode, text }
    } finally {
      clearTimeout(timer)
    }
  }
  return { transport, pool }
}

async function fetchOnce (fetchImpl: typeof fetch, url: URL, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<Answer> {
  const response = await fetchImpl(url, { method, headers, ...(body === undefined ? {} : { body }), signal })
  return { status: response.status, text: await response.text() }
}

function abortOnTimeout (controller: AbortController): void {
  // The reason AbortSignal.timeout gives, so both transports' timeouts are found by isTimeout.
  controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
}

const utf8 = new TextDecoder()

/** Undoes a content-encoding as fetch did (it asked for gzip and deflate); unknown ones pass raw. */
function decode (data: Buffer, encoding: string): string {
  const codings = encoding.toLowerCase().split(',').map((c) => c.trim()).filter((c) => c !== '' && c !== 'identity').reverse()
  let bytes: Buffer = data
  for (const coding of codings) {
    if (coding === 'gzip' || coding === 'x-gzip') bytes = gunzipSync(bytes)
    // "deflate" is meant to be zlib-wrapped; some servers send it raw.
    else if (coding === 'deflate') bytes = ((bytes[0] ?? 0) & 0x0f) === 0x08 ? inflateSync(bytes) : inflateRawSync(bytes)
    else if (coding === 'br') bytes = brotliDecompressSync(bytes)
    else return utf8.decode(data)
  }
  return utf8.decode(bytes)
}

/** The headers as given to fetch, which sets its own user-agent and accept-encoding. */
function fetchHeaders (headers: Record<string, string>): Record<string, string> {
  const { 'accept-encoding': _encoding, 'user-agent': _agent, ...rest } = headers
  return rest
}

function codeFor (status: number): DojoErrorCode {
  if (status === 400) return DojoErrorCodes.validation
  if (status === 401) return DojoErrorCodes.unauthorized
  if (status === 404) return DojoErrorCodes.notFound
  if (status === 409) return DojoErrorCodes.conflict
  if (status >= 500) return DojoErrorCodes.unavailable
  return DojoErrorCodes.request
}

function closedError (operation: string): DojoError {
  return new DojoError(DojoErrorCodes.closed, `Dojo ${operation}: the client is closed`, { operation })
}

function isTimeout (error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { name?: unknown }).name === 'TimeoutError') return true
  }
  return false
}

function causeCode (error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

function describe (error: unknown): string {
  const code = causeCode(error)
  const message = error instanceof Error ? error.message : String(error)
  return code === undefined ? message : `${message} (${code})`
}
