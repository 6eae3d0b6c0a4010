import type { Static, TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import pRetry, { AbortError } from 'p-retry'
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
  fetch: typeof fetch
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

// Codes that mean the request never left this machine: Dojo cannot have acted on it.
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH'])

/** Sends one API call with a timeout per attempt and bounded, jittered retries. */
export function createHttp (options: HttpOptions) {
  const redact = (text: string): string => text.split(options.secretKey).join('[redacted]')

  async function send<S extends TSchema | undefined> (call: Call<S>): Promise<Result<S>> {
    const url = new URL(options.baseUrl + call.path)
    for (const [k, v] of Object.entries(call.query ?? {})) url.searchParams.set(k, v)
    const operation = `${call.method} ${call.path}`
    const headers: Record<string, string> = {
      authorization: `Basic ${options.secretKey}`,
      version: options.apiVersion,
      accept: 'application/json',
      ...call.headers
    }
    let body: string | undefined
    if (call.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(call.body)
    }
    let attempts = 0

    const attempt = async (): Promise<Result<S>> => {
      if (options.closed.aborted) throw new AbortError(closedError(operation))
      attempts++
      const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.closed])
      let status: number
      let text: string
      try {
        const response = await options.fetch(url, { method: call.method, headers, ...(body === undefined ? {} : { body }), signal })
        status = response.status
        text = await response.text()
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

    return await pRetry(attempt, {
      retries: options.retries,
      minTimeout: options.retryDelayMs,
      maxTimeout: Math.max(options.retryDelayMs, 10_000),
      factor: 2,
      randomize: true,
      signal: options.closed,
      shouldRetry: ({ error }) => (error as Partial<DojoError>).code !== DojoErrorCodes.closed
    }).catch((error: unknown) => {
      if (options.closed.aborted && (error as Partial<DojoError>).code === undefined) throw closedError(operation)
      throw error
    })
  }

  function parseSuccess<S extends TSchema | undefined> (call: Call<S>, operation: string, status: number, text: string, attempts: number): Result<S> {
    if (call.schema === undefined) return undefined as Result<S>
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch (error) {
      throw new AbortError(new DojoError(DojoErrorCodes.response, `Dojo ${operation} answered ${status} with a body that is not JSON`, { cause: error, status, operation, attempts }))
    }
    if (!Value.Check(call.schema, data)) {
      const problems = [...Value.Errors(call.schema, data)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`)
      throw new AbortError(new DojoError(DojoErrorCodes.response, `Dojo ${operation} answered ${status} with an unexpected body: ${problems.join('; ')}`, { status, operation, attempts, details: { problems } }))
    }
    return data as Result<S>
  }

  function errorFromAnswer (operation: string, status: number, text: string, attempts: number, outcomeUnknown: boolean): DojoError {
    let body: unknown
    try { body = JSON.parse(text) } catch { body = undefined }
    const problem = Value.Check(ProblemDetailsSchema, body) ? body : undefined
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

  return { send }
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
