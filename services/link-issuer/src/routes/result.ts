import type { FastifyInstance } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { PaymentIntent } from '@paylinks/dojo-client'
import type { Issuer } from '../issuer.js'
import type { MerchantDirectory } from '../dojo.js'
import { formatMoney } from '../mailer.js'
import { customerPageHeaders, escapeHtml, page } from '../pages.js'

export interface ResultRoutesOptions {
  issuer: Issuer
  merchants: MerchantDirectory
  rateLimit: { max: number, timeWindow: number }
}

type Verdict = 'paid' | 'pending' | 'failed' | 'unknown'

const COPY: Record<Verdict, { title: string, text: string }> = {
  paid: { title: 'Payment received', text: 'Your payment went through. Thank you.' },
  pending: { title: 'Payment not completed yet', text: 'We have not received your payment yet. If you were charged, it will show here shortly; otherwise you can try the link again.' },
  failed: { title: 'Payment did not go through', text: 'This payment was not taken: the link was canceled, expired or the payment was reversed.' },
  unknown: { title: 'We could not check your payment', text: 'We could not confirm the status of your payment right now. Please reload this page in a moment.' }
}

/** Dojo's status, read by us from Dojo: never from the query string the customer arrives with. */
function verdictOf (intent: PaymentIntent): Verdict {
  switch (intent.status) {
    case 'Captured': case 'Authorized': return 'paid'
    case 'Created': return 'pending'
    default: return 'failed'
  }
}

/** GET /links/{id}/result: where Dojo sends the customer back; the status is confirmed with Dojo. */
export default async function resultRoutes (fastify: FastifyInstance, options: ResultRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  await app.register(rateLimit, { global: true, max: options.rateLimit.max, timeWindow: options.rateLimit.timeWindow })

  app.get('/links/:id/result', {
    schema: {
      operationId: 'getPaymentResultPage',
      tags: ['customer'],
      summary: 'The page the customer returns to from checkout (HTML); confirms the status with Dojo',
      // The customer's browser, sent back by Dojo: no credentials.
      security: [],
      params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
      response: {
        200: { description: 'The result page', content: { 'text/html': { schema: Type.String() } } },
        404: { description: 'No such link: a page that says so', content: { 'text/html': { schema: Type.String() } } }
      }
    }
  }, async (request, reply) => {
    customerPageHeaders(reply)
    const state = /^lnk_[A-Za-z0-9_-]{10,64}$/.test(request.params.id) ? await options.issuer.load(request.params.id) : undefined
    const merchant = state === undefined ? undefined : await options.merchants.get(state.merchantId)
    if (state === undefined || merchant === undefined) {
      return reply.code(404).send(page('Payment link not found', '<h1>Payment link not found</h1><p>This link does not exist. Check the address, or contact the merchant.</p>'))
    }
    let verdict: Verdict = state.status === 'canceled' || state.status === 'failed' || state.status === 'expired' ? 'failed' : 'pending'
    if (state.paymentIntentId !== undefined) {
      try {
        const client = await options.merchants.dojo(merchant)
        verdict = verdictOf(await client.getPaymentIntent(state.paymentIntentId, { returnCanceled: true }))
      } catch (error) {
        request.log.warn({ err: error, linkId: state.linkId }, 'could not confirm the status with Dojo')
        verdict = 'unknown'
      }
    }
    const copy = COPY[verdict]
    const redirect = state.redirectUrl ?? merchant.defaultRedirectUrl ?? undefined
    const safeRedirect = redirect !== undefined && /^https?:\/\//i.test(redirect) ? redirect : undefined
    return page(copy.title, `<main data-status="${verdict}">
<p>${escapeHtml(merchant.name)}</p>
<h1>${escapeHtml(copy.title)}</h1>
<p>${escapeHtml(copy.text)}</p>
<p>${escapeHtml(formatMoney(state.amount))} · reference ${escapeHtml(state.reference)}</p>
${verdict === 'pending' && state.url !== undefined && state.status === 'issued' ? `<p><a href="${escapeHtml(state.url)}">Return to the payment page</a></p>` : ''}
${safeRedirect === undefined ? '' : `<p><a class="button" href="${escapeHtml(safeRedirect)}">Continue to ${escapeHtml(merchant.name)}</a></p>`}
</main>`)
  })
}
