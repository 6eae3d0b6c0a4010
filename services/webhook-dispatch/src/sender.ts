import { Agent, request } from 'undici'
import { checkUrl, guardedLookup, TargetRefusedError, type TargetPolicy } from './ssrf.js'

export interface SendResult {
  /** The response status, when one came. */
  statusCode?: number
  /** Why there was no 2xx: a refusal, a timeout, a connection error, a status. */
  error?: string
  /** The refusal's code, when the target was refused before any connection. */
  refused?: string
  latencyMs: number
  /** Seconds from the response's Retry-After, when it sent one. */
  retryAfterSeconds?: number
}

export interface Sender {
  send: (url: string, headers: Record<string, string>, body: string) => Promise<SendResult>
  close: () => Promise<void>
}

/**
 * POSTs webhooks with a timeout, never following a redirect (a 3xx is a failure), to addresses
 * checked after resolution: IP-literal hosts before connecting, names in the socket's own
 * lookup, so the address connected to is the address checked. Response bodies are discarded.
 */
export function createSender (options: { policy: TargetPolicy, timeoutMs: number, userAgent?: string }): Sender {
  const agent = new Agent({
    connect: { lookup: guardedLookup(options.policy), timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    keepAliveTimeout: 4000,
    connections: 64
  })
  return {
    async send (target, headers, body) {
      const started = performance.now()
      const elapsed = (): number => Math.round(performance.now() - started)
      try {
        // IP-literal hosts never reach `lookup`: checkUrl refuses them here; names are checked at connect.
        const url = checkUrl(target, options.policy)
        const response = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', 'user-agent': options.userAgent ?? 'paylinks-webhooks/1', ...headers },
          body,
          maxRedirections: 0,
          signal: AbortSignal.timeout(options.timeoutMs)
        } as Parameters<typeof request>[1])
        await response.body.dump({ limit: 64 * 1024 }).catch(() => {})
        const retryAfter = Number(response.headers['retry-after'])
        return {
          statusCode: response.statusCode,
          latencyMs: elapsed(),
          ...(response.statusCode >= 200 && response.statusCode < 300 ? {} : { error: response.statusCode >= 300 && response.statusCode < 400 ? `redirect ${response.statusCode} not followed` : `status ${response.statusCode}` }),
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {})
        }
      } catch (error) {
        const refused = refusal(error)
        if (refused !== undefined) return { latencyMs: elapsed(), refused: refused.code, error: `refused: ${refused.message}` }
        const e = error as { name?: string, code?: string, message?: string }
        const timeout = e.name === 'TimeoutError' || e.name === 'AbortError' || /Timeout/i.test(e.code ?? '')
        return { latencyMs: elapsed(), error: timeout ? `timeout after ${options.timeoutMs} ms` : `${e.code ?? e.name ?? 'error'}: ${e.message ?? String(error)}`.slice(0, 500) }
      }
    },
    async close () { await agent.close() }
  }
}

function refusal (error: unknown): TargetRefusedError | undefined {
  let e: unknown = error
  for (let i = 0; i < 5 && e !== undefined && e !== null; i++) {
    if (e instanceof TargetRefusedError) return e
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}
