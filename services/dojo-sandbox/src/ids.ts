import { randomBytes } from 'node:crypto'

/** A Dojo-style id: prefix plus 22 url-safe base64 characters (16 random bytes). */
export function newId (prefix: string): string {
  return prefix + randomBytes(16).toString('base64url')
}

/** A W3C traceparent, the shape ASP.NET puts in `traceId`. */
export function newTraceId (): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`
}

export const ID_PREFIX = {
  paymentIntent: 'pi_sandbox_',
  subscription: 'ws_',
  secret: 'sc_',
  event: 'evt_',
  capture: 'cp_',
  refund: 'rfnd_',
  reversal: 'rvs_',
  account: 'acc_'
} as const
