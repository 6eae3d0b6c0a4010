import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { admitsPayer, type ReusableLinkState } from '@paylinks/contracts'
import { checkoutBaseFor } from '@paylinks/dojo-client'
import type { Merchant } from '@paylinks/merchants'
import { problemResponse, PROBLEM_SCHEMA_ID } from '@paylinks/service-kit'
import type { MerchantDirectory } from '../dojo.js'
import { LinkErrorCodes, linkError } from '../errors.js'
import { formatMoney } from '../mailer.js'
import { customerPageHeaders, escapeHtml, page } from '../pages.js'
import type { ReusableLinks } from '../reusable/reusable-links.js'
import { AdmittedPayerSchema } from '../schemas.js'
import { checkoutOrigin } from './short-links.js'

export interface ReusablePageRoutesOptions {
  reusable: ReusableLinks
  merchants: MerchantDirectory
  rateLimit: { max: number, timeWindow: number }
}

const html = { 'text/html': { schema: Type.String() } }
const problem = { 'application/problem+json': { schema: Type.Ref(PROBLEM_SCHEMA_ID) } }
const Params = Type.Object({ code: Type.String({ maxLength: 100 }) })

const notFoundPage = (): string => page('Payment link not found', '<main><h1>Payment link not found</h1><p>This link does not exist. Check the address, or contact the merchant who sent it.</p></main>')

function unavailablePage (state: ReusableLinkState, merchant: Merchant): string {
  const why = state.active ? 'It has taken all the payments it was set up for.' : `${merchant.name} has turned it off.`
  return page('This payment link is no longer available', '<main data-status="unavailable"><h1>This payment link is no longer available</h1>' +
    `<p>${escapeHtml(why)} Nothing was charged. If you still need to pay, ask ${escapeHtml(merchant.name)} for another link.</p></main>`)
}

function retry (reply: FastifyReply, code: string): FastifyReply {
  return reply.code(503).header('retry-after', '3').send(page('Please try again', '<main data-status="retry"><h1>Please try again</h1><p>Your payment could not be set up just now. ' +
    `Nothing was charged. <a href="/r/${escapeHtml(code)}">Back to the payment page</a>.</p></main>`))
}

/** True when the caller asked for JSON (an API client) rather than a page (a person's browser). */
const wantsJson = (request: FastifyRequest): boolean => /\bapplication\/(problem\+)?json\b/.test(request.headers.accept ?? '')

/**
 * GET /r/{code}: a reusable link's page (price, Pay button); POST /r/{code}/pay: the payer is
 * admitted on the reusable link's stream and sent on to the checkout of a payment link of their
 * own. Opening the page admits nobody: link previews and prefetches would take the places.
 */
export default async function reusablePageRoutes (fastify: FastifyInstance, options: ReusablePageRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  await app.register(rateLimit, { global: true, max: options.rateLimit.max, timeWindow: options.rateLimit.timeWindow })
  // The Pay button sends an empty form; nothing in it is read.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, _body, done) => { done(null, {}) })

  async function find (code: string): Promise<{ state: ReusableLinkState, merchant: Merchant } | undefined> {
    const id = `rl_${code}`
    if (!/^rl_[A-Za-z0-9_-]{10,64}$/.test(id)) return undefined
    const state = await options.reusable.load(id)
    const merchant = state === undefined ? undefined : await options.merchants.get(state.merchantId)
    return state === undefined || merchant === undefined ? undefined : { state, merchant }
  }

  /** The page's form posts here, and its redirect ends at the merchant's Dojo checkout: both are allowed. */
  const pageHeaders = (reply: FastifyReply, merchant: Merchant): FastifyReply =>
    customerPageHeaders(reply, { formAction: ["'self'", ...checkoutOrigin(checkoutBaseFor(merchant.dojoBaseUrl))] })

  app.get('/r/:code', {
    schema: {
      operationId: 'openReusableLink',
      tags: ['customer'],
      summary: 'A reusable link\'s page: the price and a Pay button (or why it is no longer available)',
      security: [],
      params: Params,
      response: {
        200: { description: 'The link takes payers: its page', content: html },
        404: { description: 'No such link: a page that says so', content: html },
        410: { description: 'Deactivated, or its limit reached: a page that says so', content: html }
      }
    }
  }, async (request, reply) => {
    customerPageHeaders(reply)
    const found = await find(request.params.code)
    if (found === undefined) return reply.code(404).send(notFoundPage())
    const { state, merchant } = found
    if (!admitsPayer(state)) return reply.code(410).send(unavailablePage(state, merchant))
    const amount = formatMoney(state.amount)
    pageHeaders(reply, merchant)
    return reply.send(page(`Pay ${merchant.name}`, `<main data-status="open"><h1>Pay ${escapeHtml(merchant.name)}</h1>` +
      `<p>${escapeHtml(amount)}${state.description === undefined ? '' : ` for ${escapeHtml(state.description)}`}</p>` +
      `<form method="post" action="/r/${escapeHtml(request.params.code)}/pay"><button type="submit">Pay ${escapeHtml(amount)}</button></form></main>`))
  })

  app.post('/r/:code/pay', {
    schema: {
      operationId: 'payReusableLink',
      tags: ['customer'],
      summary: 'A payer of a reusable link asks to pay: admitted (a payment link of their own, on to its checkout) or told it is no longer available',
      description: 'A browser (a form post) gets a 303 to the checkout, or a page; a client that accepts `application/json` gets the payer\'s link (201) or problem details.',
      security: [],
      params: Params,
      response: {
        201: { ...AdmittedPayerSchema, description: 'Admitted (JSON): the payer\'s own payment link' },
        303: { description: 'Admitted: on to the checkout of the payer\'s own payment link (Location)', type: 'null' },
        404: { description: 'No such link', content: { ...html, ...problem } },
        410: { description: 'Deactivated, or its limit reached (LINK_REUSABLE_UNAVAILABLE)', content: { ...html, ...problem } },
        503: { ...problemResponse(503), content: { ...html, ...problem } }
      }
    }
  }, async (request, reply) => {
    const json = wantsJson(request)
    if (!json) customerPageHeaders(reply)
    const found = await find(request.params.code)
    if (found === undefined) {
      if (json) throw linkError(LinkErrorCodes.notFound, 404, `No reusable link rl_${request.params.code}.`)
      return reply.code(404).send(notFoundPage())
    }
    const { state, merchant } = found
    let child
    try {
      child = await options.reusable.admit(state, merchant, request.id)
    } catch (error) {
      const code = (error as { code?: string }).code
      if (json) throw error
      if (code === LinkErrorCodes.reusableUnavailable) return reply.code(410).send(unavailablePage((await options.reusable.load(state.reusableLinkId)) ?? state, merchant))
      request.log.warn({ err: error, reusableLinkId: state.reusableLinkId }, 'a payer of a reusable link was not given a link')
      return retry(reply, request.params.code)
    }
    const url = child.link.url
    if (url === undefined) {
      // Dojo refused the intent: the child failed, and its place is freed by its recorded failure.
      if (json) throw linkError(LinkErrorCodes.dojoUnavailable, 503, 'Your payment link could not be issued just now; try again.')
      return retry(reply, request.params.code)
    }
    if (json) return reply.code(201).send({ linkId: child.link.linkId, url, holdUntil: child.holdUntil })
    return reply.code(303).header('location', url).send(null)
  })
}
