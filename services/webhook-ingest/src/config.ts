import { Type, type Static } from '@sinclair/typebox'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { SecretsConfigSchema } from '@paylinks/merchants'
import { EventsStreamConfigSchema } from '@paylinks/messaging'
import { ServerConfigSchema } from '@paylinks/service-kit'

const Ms = (defaultMs: number, description: string, minimum = 1): ReturnType<typeof Type.Integer> =>
  Type.Integer({ default: defaultMs, minimum, description })

export const IngestConfigSchema = Type.Composite([
  ServerConfigSchema,
  DatabaseConfigSchema,
  EventsStreamConfigSchema,
  SecretsConfigSchema,
  Type.Object({
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:3002', pattern: '^https?://', description: 'base URL Dojo reaches this service at; webhooks go to <PUBLIC_URL>/webhooks/dojo/<merchantId>' }),
    WEBHOOK_BODY_LIMIT_BYTES: Type.Integer({ default: 65_536, minimum: 256, maximum: 10_485_760, description: 'larger webhook bodies are refused with 413' }),
    WEBHOOK_SECRET_GRACE_MS: Ms(86_400_000, 'a secret Dojo no longer lists as active still verifies for this long (deliveries in flight during a rotation)', 0),
    SECRETS_CACHE_MS: Ms(30_000, 'how long verified-webhook secrets are cached per merchant'),
    DOJO_TIMEOUT_MS: Ms(5000, 'timeout of each Dojo API attempt'),
    DOJO_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 10, description: 'further attempts of a Dojo read after a timeout or 5xx' }),
    CONFIRM_CONCURRENCY: Type.Integer({ default: 8, minimum: 1, maximum: 256, description: 'confirmations (Dojo reads) in flight per instance, claimed as one batch' }),
    CONFIRM_ACCEPT_TARGET_MS: Ms(20, 'while deliveries arrive, confirmations slow down (rate halved per 100 ms window) whenever the endpoint\'s answers (95th percentile of the window) or the event loop\'s delay exceed this, and speed up again below it; 0 never slows them down', 0),
    CONFIRM_MIN_RATE: Type.Number({ default: 20, minimum: 1, maximum: 10_000, description: 'confirmations per second never slowed down below, so a backlog drains under any load' }),
    CONFIRM_POLL_MS: Ms(250, 'how often the confirmation queue is checked when idle'),
    CONFIRM_LEASE_MS: Ms(5000, 'a confirmation\'s lease: renewed every third of it while Dojo is read and the outcome published; one taken by a worker that crashed or froze is retried after this long', 300),
    CONFIRM_RETRY_BASE_MS: Ms(1000, 'first back-off after a failed confirmation (doubles, jittered)'),
    CONFIRM_RETRY_MAX_MS: Ms(300_000, 'longest back-off between confirmation attempts (they never stop)'),
    RECONCILE_QUIET_AFTER_MS: Ms(900_000, 'a link with no settled status is checked with Dojo this long after its last change'),
    RECONCILE_MAX_INTERVAL_MS: Ms(3_600_000, 'checks of a quiet link back off (doubling) up to this interval'),
    RECONCILE_INTERVAL_MS: Ms(60_000, 'how often the reconciler looks for quiet links'),
    RECONCILE_BATCH: Type.Integer({ default: 200, minimum: 1, maximum: 10_000, description: 'most links queued for a check per reconciler run' }),
    SUBSCRIPTION_SYNC_INTERVAL_MS: Ms(300_000, 'how often every merchant\'s Dojo webhook subscription and secrets are checked'),
    SUBSCRIPTION_SYNC_ON_START: Type.Boolean({ default: true, description: 'check subscriptions at start-up' }),
    SUBSCRIBER_LINGER_MS: Ms(10, 'after a small batch the store subscriber waits this long, so a burst of deliveries is queued in fewer, larger transactions (adds as much to confirmation lag)', 0),
    SUBSCRIBER_NAME: Type.String({ default: 'webhook-ingest', pattern: '^[A-Za-z0-9_.-]+$', description: 'checkpoint name of the store subscriber (links map + confirmation queue)' }),
    MIGRATE_ON_START: Type.Boolean({ default: true, description: 'apply pending migrations at start-up' })
  })
])
export type IngestConfig = Static<typeof IngestConfigSchema>
