import { Type, type Static } from '@sinclair/typebox'

/** The environment a process needs to read merchants' sealed secrets. */
export const SecretsConfigSchema = Type.Object({
  SECRETS_ENCRYPTION_KEYS: Type.String({
    minLength: 40,
    description: 'comma-separated base64 32-byte keys (openssl rand -base64 32); the first encrypts, all decrypt'
  })
})
export type SecretsConfig = Static<typeof SecretsConfigSchema>

/** The keys from that configuration. */
export const encryptionKeys = (config: SecretsConfig): string[] => config.SECRETS_ENCRYPTION_KEYS.split(',').map((k) => k.trim()).filter((k) => k !== '')

/** The environment of a service that takes API keys: caches and the failed-authentication limit. */
export const ApiKeyAuthConfigSchema = Type.Object({
  API_KEY_CACHE_MS: Type.Integer({ default: 2000, minimum: 0, maximum: 5000, description: 'a successful API key authentication is reused this long (0: every request asks the database); a revoked key stops working within it' }),
  API_KEY_NEGATIVE_CACHE_MS: Type.Integer({ default: 5000, minimum: 0, maximum: 60_000, description: 'a key that failed is refused without a query this long (0: never cached)' }),
  AUTH_FAILURES_MAX: Type.Integer({ default: 20, minimum: 1, description: 'failed authentications per client address per window before the address gets 429 without a look-up' }),
  AUTH_FAILURES_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 100, description: 'the failed-authentication window' })
})
export type ApiKeyAuthConfig = Static<typeof ApiKeyAuthConfigSchema>

/** The authenticator options from that configuration. */
export const apiKeyAuthOptions = (config: ApiKeyAuthConfig): { cacheMs: number, negativeCacheMs: number, maxFailures: number, failureWindowMs: number } =>
  ({ cacheMs: config.API_KEY_CACHE_MS, negativeCacheMs: config.API_KEY_NEGATIVE_CACHE_MS, maxFailures: config.AUTH_FAILURES_MAX, failureWindowMs: config.AUTH_FAILURES_WINDOW_MS })
