import { Type, type Static } from '@sinclair/typebox'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { ApiKeyAuthConfigSchema, SecretsConfigSchema } from '@paylinks/merchants'
import { EventsStreamConfigSchema } from '@paylinks/messaging'
import { ServerConfigSchema } from '@paylinks/service-kit'

const Name = { pattern: '^[A-Za-z0-9_-]+$' }

export const LinkIssuerConfigSchema = Type.Composite([
  ServerConfigSchema,
  DatabaseConfigSchema,
  EventsStreamConfigSchema,
  SecretsConfigSchema,
  ApiKeyAuthConfigSchema,
  Type.Object({
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:3000', pattern: '^https?://', description: 'where customers reach this service (result page, Dojo redirect)' }),
    ORDERS_STREAM: Type.String({ default: 'ORDERS', ...Name, description: 'JetStream stream order systems publish orders to' }),
    ORDERS_SUBJECT_PREFIX: Type.String({ default: 'orders', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', description: 'orders arrive on <prefix>.v1.<merchantId>' }),
    ORDERS_DURABLE: Type.String({ default: 'link-issuer', ...Name, description: 'durable consumer of the orders stream' }),
    ORDERS_MAX_AGE_HOURS: Type.Number({ default: 168, exclusiveMinimum: 0, description: 'how long JetStream keeps orders' }),
    ORDERS_CONCURRENCY: Type.Integer({ default: 16, minimum: 1, maximum: 256, description: 'orders handled at once per instance' }),
    ORDERS_MAX_ATTEMPTS: Type.Integer({ default: 10, minimum: 1, description: 'deliveries before an order that keeps failing is rejected' }),
    ORDERS_RETRY_DELAY_MS: Type.Integer({ default: 1000, minimum: 1, description: 'first redelivery delay after a failure (doubles, jittered)' }),
    SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://', description: 'e.g. smtp://user:pass@mail:587; unset: no e-mail (the API refuses sendEmail)' })),
    MAIL_FROM: Type.String({ default: 'Payments <payments@paylinks.local>', description: 'From: of link e-mails' }),
    SMTP_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'connect, greeting and socket timeout of the SMTP client' }),
    DOJO_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 120_000, description: 'per Dojo call attempt' }),
    DOJO_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 5, description: 'further attempts of a retryable Dojo call' }),
    DOJO_RETRY_DELAY_MS: Type.Integer({ default: 250, minimum: 0, description: 'first Dojo back-off' }),
    RATE_LIMIT_MAX: Type.Integer({ default: 600, minimum: 1, description: 'requests per API key per window' }),
    RATE_LIMIT_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 100, description: 'rate-limit window' }),
    CUSTOMER_KEY_CACHE_MS: Type.Integer({ default: 2000, minimum: 0, maximum: 5000, description: 'a customer\'s data key is remembered this long; an erasure on another instance takes effect here within it' }),
    OPEN_EVENT_INTERVAL_MS: Type.Integer({ default: 60_000, minimum: 100, description: 'after a link\'s first open (published at once), payment-link.opened carries its count of opens at most this often; the recovery sweep publishes a count left waiting longer' }),
    RESULT_RATE_LIMIT_MAX: Type.Integer({ default: 120, minimum: 1, description: 'result-page requests per client IP per window' }),
    IDEMPOTENCY_KEY_TTL_HOURS: Type.Number({ default: 24, minimum: 24, description: 'an Idempotency-Key replays its first answer (and refuses another body) at least this long; older keys are pruned by the periodic sweep (RECOVERY_INTERVAL_MS). A reference stays unique forever regardless' }),
    ISSUE_LEASE_MS: Type.Integer({ default: 10_000, minimum: 1000, maximum: 120_000, description: 'an issue lease (who calls Dojo create for a link) lasts this long unless renewed; its holder renews it every third of it while the create is in flight. A holder whose process is gone loses it at once' }),
    ISSUE_WAIT_MS: Type.Integer({ default: 5000, minimum: 0, maximum: 60_000, description: 'a create request waits this long (at most REQUEST_TIMEOUT_MS - 1 s) for another holder\'s outcome, then answers 202 with the link requested' }),
    RECOVERY_TAKEOVER_INTERVAL_MS: Type.Integer({ default: 1000, minimum: 0, description: 'how often the sweep leader resumes links whose issue lease was left by a holder that is gone or stalled (0: never)' }),
    RECOVERY_INTERVAL_MS: Type.Integer({ default: 10_000, minimum: 0, description: 'how often links stuck in requested without a lease are re-driven, unsent e-mails sent and expired Idempotency-Keys pruned (0: never); one replica at a time runs it' }),
    RECOVERY_AFTER_MS: Type.Integer({ default: 15_000, minimum: 0, description: 'a link without a lease is stuck when requested longer than this' }),
    LIST_LINGER_MS: Type.Integer({ default: 20, minimum: 0, maximum: 1000, description: 'the list of links (GET /v1/payment-links) trails the log by up to this much more, so a burst updates it in fewer, larger transactions; one link by id always includes the caller\'s writes (on another replica: see Paylinks-Position in the README)' }),
    LIST_CONSISTENCY_WAIT_MS: Type.Integer({ default: 2000, minimum: 0, maximum: 10_000, description: 'a list waits up to this long for the read model to reach the caller\'s own writes (then answers with Paylinks-Stale: true)' }),
    REMINDER_SWEEP_MS: Type.Integer({ default: 60_000, minimum: 0, description: 'how often the sweep leader sends the reminder e-mails that are due under merchants\' reminder policies (0: never)' }),
    REMINDER_BATCH: Type.Integer({ default: 100, minimum: 1, maximum: 1000, description: 'reminders sent per sweep at most (the oldest due first; the rest wait for the next sweep)' }),
    REMINDER_MIN_INTERVAL_S: Type.Integer({ default: 3600, minimum: 1, description: 'the shortest firstAfterSeconds and everySeconds a merchant may set (/v1/settings/reminders); an hour in production, seconds in tests' }),
    REUSABLE_HOLD_S: Type.Integer({ default: 900, minimum: 1, maximum: 86_400, description: 'a reusable link\'s admitted payer holds their place this long; then their unpaid link is canceled at Dojo and the place freed' }),
    REUSABLE_LINGER_MS: Type.Integer({ default: 250, minimum: 0, maximum: 5000, description: 'the list of reusable links and the places of their payers trail the log by up to this much more: their subscriber reads every link\'s events (a payer\'s link settles its place), so it commits once per this interval under load rather than once per burst of the recorder' }),
    REUSABLE_SWEEP_MS: Type.Integer({ default: 5000, minimum: 0, description: 'how often the sweep leader ends the holds of reusable links\' payers that ran out (0: never)' }),
    MIGRATE_ON_START: Type.Boolean({ default: true, description: 'apply pending migrations at start' })
  })
])
export type LinkIssuerConfig = Static<typeof LinkIssuerConfigSchema>
