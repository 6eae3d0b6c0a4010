import { createHmac, randomBytes } from 'node:crypto'

const PREFIX = 'whsec_'

/** A new signing secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64). */
export function newSigningSecret (): string {
  return PREFIX + randomBytes(32).toString('base64')
}

/**
 * `v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under one secret (Standard Webhooks,
 * symmetric scheme). `timestamp` is whole seconds since the epoch, as sent in `webhook-timestamp`.
 */
export function sign (secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/**
 * The three Standard Webhooks headers for one attempt. Each secret signs (current first): during
 * a rotation's overlap the old and new signatures go space-separated in `webhook-signature`,
 * and a receiver holding either secret verifies.
 */
export function webhookHeaders (secrets: string[], id: string, body: string, now = Date.now()): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = Math.floor(now / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' ')
  }
}
