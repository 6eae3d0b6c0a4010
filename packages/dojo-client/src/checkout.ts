import { DOJO_API_URL } from './client.js'
import type { PaymentIntent } from './schemas.js'

/** Dojo's hosted checkout, where the links of intents created at `DOJO_API_URL` point. */
export const DOJO_CHECKOUT_URL = 'https://pay.dojo.tech'

/**
 * The hosted checkout base for an API base URL: Dojo's checkout host for Dojo's API, the
 * emulator's own base otherwise (an emulator serves its checkout pages itself).
 */
export function checkoutBaseFor (apiBaseUrl: string): string {
  const base = apiBaseUrl.replace(/\/+$/, '')
  return base === DOJO_API_URL ? DOJO_CHECKOUT_URL : base
}

/**
 * The link a customer pays an intent at: Dojo's `paymentLink` when it is an absolute URL, else
 * `<checkout base>/checkout/<intent id>`.
 */
export function checkoutUrlFor (apiBaseUrl: string, intent: Pick<PaymentIntent, 'id' | 'paymentLink'>): string {
  if (typeof intent.paymentLink === 'string' && /^https?:\/\//.test(intent.paymentLink)) return intent.paymentLink
  return `${checkoutBaseFor(apiBaseUrl)}/checkout/${intent.id}`
}
