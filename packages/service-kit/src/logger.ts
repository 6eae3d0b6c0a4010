import type { FastifyServerOptions } from 'fastify'
import { traceIds, tracingEnabled } from './tracing.js'

/** Secret-looking strings that must never reach a log line, wherever they hide. */
const SECRET_PATTERNS: RegExp[] = [
  /sk_(?:sandbox|prod|test|live)_[A-Za-z0-9_-]+/g,
  /\b(?:\d[ -]?){13,19}\b/g, // a card number, spaced or not
  /(?<=[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+(?=@)/gi // the password in a URL (nats://user:pass@host)
]

/** Paths pino removes whatever their value. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["dojo-signature"]',
  'req.headers["idempotency-key"]',
  '*.secretKey', '*.secret', '*.secrets', '*.password', '*.apiKey', '*.webhookSecret',
  '*.cardNumber', '*.cvv', '*.cvc', '*.securityCode',
  'secretKey', 'secret', 'password', 'apiKey', 'cardNumber', 'cvv', 'securityCode',
  // NATS credentials, as config variables and as connection options.
  'NATS_PASSWORD', '*.NATS_PASSWORD', '*.pass'
]

/** Replace anything that looks like a secret key or a card number in a string. */
export function scrubSecrets (text: string): string {
  let out = text
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[redacted]')
  return out
}

/**
 * The one set of logger options every service uses: pino, object first, JSON unless on a TTY,
 * secrets redacted by path and scrubbed from messages, and (with tracing on) the trace id.
 */
export type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>

export function loggerOptions (options: { level: string, name?: string, pretty?: boolean }): LoggerOptions {
  const pretty = options.pretty ?? process.stdout.isTTY === true
  return {
    level: options.level,
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // trace_id and span_id on lines written inside a span, so a log line leads to its trace.
    ...(tracingEnabled() ? { mixin: traceIds } : {}),
    hooks: {
      // Messages are formatted strings; scrub them too, since a path list cannot reach inside.
      logMethod (this: unknown, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => typeof a === 'string' ? scrubSecrets(a) : a))
      }
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
  }
}
