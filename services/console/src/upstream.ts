import { setTimeout as sleep } from 'node:timers/promises'
import { ServiceError } from '@paylinks/service-kit'
import { ConsoleErrorCodes } from './errors.js'

export type ServiceName = 'link-issuer' | 'projector' | 'webhook-dispatch'

export interface UpstreamRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  query?: Record<string, string | undefined>
  body?: unknown
  /** The merchant's partner API key the console acts with. */
  apiKey: string
  /** Makes a write safe to retry (link-issuer's creates and refunds honour it). */
  idempotencyKey?: string
  accept?: string
}

export interface UpstreamResponse {
  status: number
  contentType: string
  text: string
  /** The body parsed as JSON, when it is JSON. */
  json: any
}

export interface Upstream {
  call: (service: ServiceName, request: UpstreamRequest) => Promise<UpstreamResponse>
}

/**
 * HTTP to the services the console is a client of, with a timeout on every call, and bounded,
 * jittered retries of the calls that are safe to repeat (reads, and writes with an
 * Idempotency-Key) when the service did not answer or answered 503.
 */
export function createUpstream (options: { urls: Record<ServiceName, string>, timeoutMs: number, retries: number, retryDelayMs?: number }): Upstream {
  const baseDelay = options.retryDelayMs ?? 200
  return {
    async call (service, request) {
      const method = request.method ?? 'GET'
      const url = new URL(request.path, options.urls[service])
      for (const [k, v] of Object.entries(request.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, v)
      const headers: Record<string, string> = { authorization: `Bearer ${request.apiKey}`, accept: request.accept ?? 'application/json' }
      if (request.body !== undefined) headers['content-type'] = 'application/json'
      if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey
      const retryable = method === 'GET' || request.idempotencyKey !== undefined
      for (let attempt = 0; ; attempt++) {
        const last = !retryable || attempt >= options.retries
        try {
          const response = await fetch(url, {
            method,
            headers,
            ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
            signal: AbortSignal.timeout(options.timeoutMs)
          })
          const text = await response.text()
          if (response.status === 503 && !last) {
            await backoff(attempt, baseDelay)
            continue
          }
          const contentType = response.headers.get('content-type') ?? ''
          return { status: response.status, contentType, text, json: /json/.test(contentType) && text !== '' ? JSON.parse(text) : undefined }
        } catch (error) {
          if (last) throw new ServiceError(ConsoleErrorCodes.upstream, 503, `${service} did not answer: try again in a moment.`, { retryAfterSeconds: 2, cause: error })
          await backoff(attempt, baseDelay)
        }
      }
    }
  }
}

async function backoff (attempt: number, baseMs: number): Promise<void> {
  const ceiling = baseMs * 2 ** attempt
  await sleep(ceiling / 2 + Math.random() * ceiling / 2)
}
