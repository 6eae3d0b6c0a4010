import { Type, type Static } from '@sinclair/typebox'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { SecretsConfigSchema } from '@paylinks/merchants'
import { ServerConfigSchema } from '@paylinks/service-kit'

const url = (description: string) => Type.String({ pattern: '^https?://', description })

export const ConsoleConfigSchema = Type.Composite([
  ServerConfigSchema,
  DatabaseConfigSchema,
  SecretsConfigSchema,
  Type.Object({
    CONSOLE_PUBLIC_URL: Type.Optional(url('where staff reach the console (links in invite and reset e-mails; https makes the cookie Secure); unset: the address it listens on')),
    LINK_ISSUER_URL: url('link-issuer\'s partner API, which the console calls for links'),
    PROJECTOR_URL: url('the projector\'s query API (the dashboard\'s figures)'),
    WEBHOOK_DISPATCH_URL: url('webhook-dispatch\'s endpoints API'),
    UPSTREAM_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 50, maximum: 60_000, description: 'one call to a service, headers and body' }),
    UPSTREAM_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 5, description: 'retries of a read or an idempotent write that found the service unreachable or 503 (jittered back-off)' }),
    SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://', description: 'invites and password resets are e-mailed through it (the same SMTP as link-issuer); unset: not sent, logged as skipped' })),
    MAIL_FROM: Type.String({ default: 'Paylinks console <console@paylinks.local>', description: 'From: of the console\'s e-mails' }),
    SMTP_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'connect, greeting and socket timeout of the SMTP client' }),
    SESSION_TTL_HOURS: Type.Number({ default: 12, minimum: 0.01, maximum: 720, description: 'a session ends this long after its last request' }),
    INVITE_TTL_HOURS: Type.Number({ default: 72, minimum: 0.01, maximum: 720, description: 'how long an invite can be accepted' }),
    RESET_TTL_MINUTES: Type.Number({ default: 60, minimum: 1, maximum: 1440, description: 'how long a password-reset link works' }),
    LOGIN_MAX_PER_ADDRESS: Type.Integer({ default: 30, minimum: 1, description: 'sign-in attempts per client address per window' }),
    LOGIN_MAX_PER_EMAIL: Type.Integer({ default: 10, minimum: 1, description: 'sign-in attempts per e-mail address per window' }),
    LOGIN_WINDOW_MS: Type.Integer({ default: 900_000, minimum: 100, description: 'the sign-in rate-limit window' }),
    MIGRATE_ON_START: Type.Boolean({ default: true })
  })
])
export type ConsoleConfig = Static<typeof ConsoleConfigSchema>
