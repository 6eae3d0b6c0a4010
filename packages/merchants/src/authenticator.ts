import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import { authenticateApiKey, type ApiKeyPrincipal } from './api-keys.js'
import type { MerchantTables } from './tables.js'

export interface ApiKeyAuthenticatorOptions {
  /** How long a successful authentication is reused (0: never). A revoked key stops working within it. */
  cacheMs: number
  /** How long a key that failed is refused without a query (0: never). */
  negativeCacheMs: number
  /** Failed authentications a client address may have per window before it is refused unheard. */
  maxFailures: number
  failureWindowMs: number
  /** Bound of each cache and of the failure table. Default 10,000. */
  maxEntries?: number
}

/** The outcome: who called, or why not (`retryAfterMs` once the address is limited). */
export type Authentication =
  | { ok: true, principal: ApiKeyPrincipal }
  | { ok: false, reason: 'missing' | 'invalid' }
  | { ok: false, reason: 'limited', retryAfterMs: number }

export interface ApiKeyAuthenticator {
  /** Authenticate `Authorization: Bearer <key>` (the header as sent) from a client address. */
  authenticate: (clientAddress: string, authorization: string | undefined) => Promise<Authentication>
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** A Map bounded to `max` entries: expired ones go first, then the oldest (insertion order). */
function setBounded<V extends { until: number }> (map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  if (map.size >= max) {
    const now = Date.now()
    for (const [k, v] of map) if (v.until <= now) map.delete(k)
    if (map.size >= max) map.delete(map.keys().next().value!)
  }
  map.set(key, value)
}

/**
 * API key authentication for an HTTP service, shared by every service that takes keys.
 * Successes are cached by the SHA-256 of the key (never the key itself), and so are failures,
 * briefly; an address with too many failures in a window is refused before any look-up, so
 * guessing keys costs the database nothing. A cached success still passes: a partner behind
 * the same address as a guesser keeps working.
 */
export function createApiKeyAuthenticator (db: Kysely<MerchantTables>, options: ApiKeyAuthenticatorOptions): ApiKeyAuthenticator {
  const max = options.maxEntries ?? 10_000
  const known = new Map<string, { principal: ApiKeyPrincipal, until: number }>()
  const refused = new Map<string, { until: number }>()
  const failures = new Map<string, { count: number, until: number }>()

  function fail (address: string, reason: 'missing' | 'invalid'): Authentication {
    const now = Date.now()
    const entry = failures.get(address)
    if (entry !== undefined && entry.until > now) entry.count++
    else setBounded(failures, address, { count: 1, until: now + options.failureWindowMs }, max)
    return { ok: false, reason }
  }

  return {
    async authenticate (address, authorization) {
      const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization)
      const presented = match?.[1]
      const id = presented === undefined ? undefined : sha256(presented)
      const now = Date.now()
      if (id !== undefined && options.cacheMs > 0) {
        const hit = known.get(id)
        if (hit !== undefined && hit.until > now) return { ok: true, principal: hit.principal }
      }
      const failed = failures.get(address)
      if (failed !== undefined && failed.until > now && failed.count >= options.maxFailures) {
        return { ok: false, reason: 'limited', retryAfterMs: failed.until - now }
      }
      if (presented === undefined || id === undefined) return fail(address, authorization === undefined ? 'missing' : 'invalid')
      if ((refused.get(id)?.until ?? 0) > now) return fail(address, 'invalid')
      const principal = await authenticateApiKey(db, presented)
      if (principal === undefined) {
        if (options.negativeCacheMs > 0) setBounded(refused, id, { until: Date.now() + options.negativeCacheMs }, max)
        return fail(address, 'invalid')
      }
      refused.delete(id)
      if (options.cacheMs > 0) setBounded(known, id, { principal, until: Date.now() + options.cacheMs }, max)
      return { ok: true, principal }
    }
  }
}
