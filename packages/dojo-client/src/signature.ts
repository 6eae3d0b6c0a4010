import { createHmac, timingSafeEqual } from 'node:crypto'

// Dojo's scheme: `dojo-signature: sha256=<digest>`, the digest being HMAC-SHA256 of the raw body
// bytes keyed with the secret's `value` string, written as upper-case hex pairs joined by `-`.
// No timestamp is signed, so replay protection is the receiver's job (dedupe by event id).

const PREFIX = 'sha256='

function digest (rawBody: Buffer | string, secret: string): Buffer {
  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody
  // A string key is its UTF-8 bytes, as Buffer.from(secret) would give, without the copy.
  return createHmac('sha256', secret).update(bytes).digest()
}

/** The `dojo-signature` header value Dojo would send for this body and secret. */
export function signWebhookBody (rawBody: Buffer | string, secret: string): string {
  const hex = digest(rawBody, secret).toString('hex').toUpperCase()
  return PREFIX + (hex.match(/../g) ?? []).join('-')
}

/** A hex digit's value, or -1. */
function nibble (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  const lower = c | 0x20
  return lower >= 97 && lower <= 102 ? lower - 87 : -1
}

/**
 * The 32 bytes of one `sha256=<digest>` value: 64 hex digits, `-` anywhere between them ignored.
 * Decoded in one pass (every delivery's header goes through this before its HMAC).
 */
function digestOf (value: string): Buffer | undefined {
  if (!value.startsWith(PREFIX) && value.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return undefined
  const out = Buffer.allocUnsafe(32)
  let n = 0
  for (let i = PREFIX.length; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 45) continue
    const v = nibble(c)
    if (v < 0 || n === 64) return undefined
    out[n >> 1] = (n & 1) === 0 ? v << 4 : out[n >> 1]! | v
    n++
  }
  return n === 64 ? out : undefined
}

function parseHeader (header: string): Buffer[] {
  const out: Buffer[] = []
  // One value in every known delivery; a comma-separated list is accepted in case Dojo ever
  // signs with several secrets during a rotation.
  for (const part of header.split(',')) {
    const digest = digestOf(part.trim())
    if (digest !== undefined) out.push(digest)
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
