import { createHmac, timingSafeEqual } from 'node:crypto'

/** Dojo's webhook signature: HMAC-SHA256 of the raw body, upper-case hex pairs joined by '-'. */
export function signWebhook (rawBody: string | Buffer, secret: string): string {
  const digest = createHmac('sha256', secret).update(rawBody).digest()
  return 'sha256=' + [...digest].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('-')
}

/** Constant-time check of a `dojo-signature` header against any of the given secrets. */
export function verifyWebhook (rawBody: string | Buffer, header: string, secrets: string[]): boolean {
  const given = Buffer.from(header)
  let ok = false
  for (const secret of secrets) {
    const expected = Buffer.from(signWebhook(rawBody, secret))
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true
  }
  return ok
}
