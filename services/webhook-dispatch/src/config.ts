import { Type, type Static } from '@sinclair/typebox'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { ApiKeyAuthConfigSchema, SecretsConfigSchema } from '@paylinks/merchants'
import { EventsStreamConfigSchema } from '@paylinks/messaging'
import { ServerConfigSchema } from '@paylinks/service-kit'

/** Standard Webhooks' example schedule: 10 attempts over about three days (75 h 35 min). */
export const DEFAULT_RETRY_SCHEDULE = '0,5s,5m,30m,2h,5h,10h,14h,20h,24h'

export const WebhookDispatchConfigSchema = Type.Composite([
  ServerConfigSchema,
  DatabaseConfigSchema,
  EventsStreamConfigSchema,
  ApiKeyAuthConfigSchema,
  SecretsConfigSchema,
  Type.Object({
    PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'where API clients reach this service: the OpenAPI document\'s server (default: the address it listens on)' })),
    MIGRATE_ON_START: Type.Boolean({ default: true }),
    WEBHOOK_RETRY_SCHEDULE: Type.String({ default: DEFAULT_RETRY_SCHEDULE, pattern: '^\\s*\\d+(\\.\\d+)?(ms|s|m|h)?\\s*(,\\s*\\d+(\\.\\d+)?(ms|s|m|h)?\\s*)*$', description: 'delay before each attempt, the first included (ms, s, m, h; a bare number is ms)' }),
    WEBHOOK_RETRY_JITTER: Type.Number({ default: 0.2, minimum: 0, maximum: 0.5, description: 'each delay is spread by ± this fraction' }),
    WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 50, maximum: 60_000, description: 'one attempt: connect, send, and the response headers' }),
    WEBHOOK_ALLOW_HTTP_LOOPBACK: Type.Boolean({ default: false, description: 'development and tests only: allow http:// and loopback addresses (127.0.0.0/8, ::1)' }),
    WEBHOOK_DISABLE_AFTER_FAILING_MS: Type.Optional(Type.Integer({ minimum: 0, description: 'an endpoint whose delivery exhausted the schedule is disabled when it has failed without a success this long (default: the schedule\'s span less its jitter)' })),
    WEBHOOK_ROTATION_OVERLAP_HOURS: Type.Number({ default: 24, minimum: 0, maximum: 168, description: 'how long the previous secret still signs after a rotation, unless the request says' }),
    WEBHOOK_CONCURRENCY: Type.Integer({ default: 64, minimum: 1, maximum: 1000, description: 'attempts in flight per process' }),
    WEBHOOK_ENDPOINT_CONCURRENCY: Type.Integer({ default: 8, minimum: 1, maximum: 100, description: 'attempts in flight per endpoint (ordering is not promised)' }),
    WEBHOOK_LEASE_MS: Type.Integer({ default: 30_000, minimum: 100, description: 'an endpoint\'s delivery lease: one owner across replicas, renewed while it works' }),
    WEBHOOK_POLL_MS: Type.Integer({ default: 500, minimum: 10, description: 'how often due deliveries are looked for (new ones also wake the worker at once)' }),
    WEBHOOK_MAX_PER_ENDPOINT_BATCH: Type.Integer({ default: 100, minimum: 1, description: 'due deliveries taken per endpoint per round' }),
    WEBHOOK_WORKER: Type.Boolean({ default: true, description: 'run the delivery worker and the store subscriber (false: API only)' })
  })
])
export type WebhookDispatchConfig = Static<typeof WebhookDispatchConfigSchema>

/** The schedule as delays in ms: `0,5s,5m` → [0, 5000, 300000]. */
export function parseSchedule (text: string): number[] {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  return text.split(',').map((part) => {
    const match = /^\s*(\d+(?:\.\d+)?)(ms|s|m|h)?\s*$/.exec(part)
    if (match === null) throw new Error(`WEBHOOK_RETRY_SCHEDULE: ${JSON.stringify(part)} is not a delay`)
    return Math.round(Number(match[1]) * units[match[2] ?? 'ms']!)
  })
}
