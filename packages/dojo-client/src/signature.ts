import { createHmac, timingSafeEqual } from 'node:crypto'

// Dojo's scheme: `dojo-signature: sha256=<digest>`, the digest being HMAC-SHA256 of the raw body
// bytes keyed with the secret's `value` string, written as upper-case hex pairs joined by `-`.
// No timestamp is signed, so replay protection is the receiver's job (dedupe by event id).

const PREFIX = 'sha256='

function digest (rawBody: Buffer | string, secret: string): Buffer {
  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(bytes).digest()
}

/** The `dojo-signature` header value Dojo would send for this body and secret. */
export function signWebhookBody (rawBody: Buffer | string, secret: string): string {
  const hex = digest(rawBody, secret).toString('hex').toUpperCase()
  return PREFIX + (hex.match(/../g) ?? []).join('-')
}

function parseHeader (header: string): Buffer[] {
  const out: Buffer[] = []
  // One value in every known delivery; a comma-separated list is accepted in case Dojo ever
  // signs with several secrets during a rotation.
  for (const part of header.split(',')) {
    const value = part.trim()
    if (!value.toLowerCase().startsWith(PREFIX)) continue
    const hex = value.slice(PREFIX.length).replace(/-/g, '')
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) continue
    out.push(Buffer.from(hex, 'hex'))
  }
  return out
}

/**
 * True when `header` (the `dojo-signature` value) is a valid signature of the raw body bytes
 * under any of `secrets` (the subscription's active secret values, so a rotation does not drop
 * deliveries). Compared in constant time. Pass the body exactly as received, before JSON parsing.
 */
export function verifyWebhookSignature (rawBody: Buffer | string, header: string | undefined, secrets: string[]): boolean {
  if (typeof header !== 'string' || header === '' || !Array.isArray(secrets)) return false
  const given = parseHeader(header)
  if (given.length === 0) return false
  let ok = false
  // No early exit: every secret is tried, so timing does not tell which one (if any) matched.
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue
    const expected = digest(rawBody, secret)
    for (const candidate of given) {
      if (timingSafeEqual(candidate, expected)) ok = true
    }
  }
  return ok
}
