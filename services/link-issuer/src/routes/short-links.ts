import type { FastifyInstance } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { LinkStatus } from '@paylinks/contracts'
import type { Issuer } from '../issuer.js'
import type { MerchantDirectory } from '../dojo.js'
import { LinkErrorCodes } from '../errors.js'
import { renewalLinkIdFor, shortUrlOf } from '../link.js'
import { formatMoney } from '../mailer.js'
import { customerPageHeaders, escapeHtml, page } from '../pages.js'

export interface ShortLinkRoutesOptions {
  issuer: Issuer
  merchants: MerchantDirectory
  rateLimit: { max: number, timeWindow: number }
  /** link-issuer's public URL: where a renewal's short URL lives. */
  publicUrl: string
}

export type Ended = 'expired' | 'canceled' | 'failed' | 'paid' | 'released'

const ENDED: Partial<Record<LinkStatus, Ended>> = {
  expired: 'expired',
  canceled: 'canceled',
  failed: 'failed',
  authorized: 'paid',
  paid: 'paid',
  captured: 'paid',
  partially_refunded: 'paid',
  refunded: 'paid',
  released: 'released'
}

/**
 * What the short URL does for a link in `status`: `redirect` to Dojo's checkout, `wait` while it is
 * being issued, or why it has ended (an issued link past its expiry has ended, whatever Dojo has
 * told us yet).
 */
export function shortLinkOutcome (state: { status: LinkStatus, expiresAt: string, url?: string | undefined }, now = Date.now()): 'redirect' | 'wait' | Ended {
  if (state.status === 'requested') return 'wait'
  if (state.status === 'issued' && Date.parse(state.expiresAt) <= now) return 'expired'
  const ended = ENDED[state.status]
  if (ended !== undefined) return ended
  return state.url === undefined ? 'failed' : 'redirect'
}

const dateOf = (iso: string): string => new Date(iso).toLocaleString('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC'

function endedCopy (why: Ended, merchant: string, expiresAt: string, renewable = false): { code: 200 | 410, title: string, text: string } {
  switch (why) {
    case 'expired': return { code: 410, title: 'This payment link has expired', text: `It stopped working on ${dateOf(expiresAt)}. Nothing was charged. ${renewable ? 'You can get a new link for the same payment here.' : `Ask ${merchant} for a new link.`}` }
    case 'canceled': return { code: 410, title: 'This payment link was canceled', text: `${merchant} canceled it. Nothing was charged. ${renewable ? 'If you still need to pay, you can get a new link for the same payment here.' : `If you still need to pay, ask ${merchant} for a new link.`}` }
    case 'failed': return { code: 410, title: 'This payment link could not be set up', text: `Nothing was charged. Ask ${merchant} for a new link.` }
    case 'paid': return { code: 200, title: 'This link has been paid', text: 'The payment for it was received: there is nothing more to pay.' }
    case 'released': return { code: 410, title: 'This payment was reversed', text: `The payment made with this link was reversed, so you were not charged. Ask ${merchant} if you still need to pay.` }
  }
}

/**
 * GET /l/{code}: the short URL customers get. An issued link's open is counted (and
 * `payment-link.opened` recorded at the first) before the customer is sent on to Dojo's
 * checkout; a link that can no longer be paid says why, plainly, instead of a dead checkout.
 */
export default async function shortLinkRoutes (fastify: FastifyInstance, options: ShortLinkRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  await app.register(rateLimit, { global: true, max: options.rateLimit.max, timeWindow: options.rateLimit.timeWindow })

  app.get('/l/:code', {
    schema: {
      operationId: 'openShortLink',
      tags: ['customer'],
      summary: 'A payment link\'s short URL: records the open and redirects to Dojo\'s checkout (HTML page when the link cannot be paid)',
      // The customer's browser, from the link they were sent: no credentials.
      security: [],
      params: Type.Object({ code: Type.String({ maxLength: 100 }) }),
      response: {
        200: { description: 'The link was paid already: a page that says so', content: { 'text/html': { schema: Type.String() } } },
        302: { description: 'The open is recorded; on to Dojo\'s checkout (Location)', type: 'null' },
        404: { description: 'No such link: a page that says so', content: { 'text/html': { schema: Type.String() } } },
        410: { description: 'The link expired, was canceled, failed or its payment was reversed: a page that says so', content: { 'text/html': { schema: Type.String() } } }
      }
    }
  }, async (request, reply) => {
    customerPageHeaders(reply)
    const linkId = `lnk_${request.params.code}`
    const state = /^lnk_[A-Za-z0-9_-]{10,64}$/.test(linkId) ? await options.issuer.load(linkId) : undefined
    const merchant = state === undefined ? undefined : await options.merchants.get(state.merchantId)
    if (state === undefined || merchant === undefined) {
      return reply.code(404).send(page('Payment link not found', '<main><h1>Payment link not found</h1><p>This link does not exist. Check the address, or contact the merchant who sent it.</p></main>'))
    }
    const summary = `<p>${escapeHtml(formatMoney(state.amount))} to ${escapeHtml(merchant.name)}</p>`
    const outcome = shortLinkOutcome(state)
    if (outcome === 'wait') {
      return reply.header('refresh', '3').header('retry-after', '3').send(page('Preparing your payment link',
        `<main data-status="requested"><h1>Your payment link is being prepared</h1>${summary}<p>This page reloads by itself in a moment.</p></main>`))
    }
    if (outcome !== 'redirect' || state.url === undefined) {
      const why = outcome === 'redirect' ? 'failed' : outcome
      const renewable = merchant.allowRenewal && (why === 'expired' || why === 'canceled')
      const copy = endedCopy(why, merchant.name, state.expiresAt, renewable)
      const button = renewable
        ? `<form method="post" action="/l/${escapeHtml(request.params.code)}/renew"><button type="submit">Get a new payment link</button></form>`
        : ''
      // The button posts to this origin; its redirects end at the new link's checkout, on the
      // merchant's Dojo like this link's (browsers hold a form's redirects to form-action too).
      if (renewable) customerPageHeaders(reply, { formAction: ["'self'", ...checkoutOrigin(state.url)] })
      return reply.code(copy.code).send(page(copy.title, `<main data-status="${why}"><h1>${escapeHtml(copy.title)}</h1>${summary}<p>${escapeHtml(copy.text)}</p>${button}</main>`))
    }
    try {
      await options.issuer.countOpen(state)
    } catch (error) {
      // The customer is sent on regardless: the count is in li_link_opens when only the publish
      // failed (the sweep publishes it); an open that could not even be counted is logged.
      request.log.warn({ err: error, linkId }, 'open of a link not recorded yet')
    }
    return reply.code(302).header('location', state.url).send(null)
  })

  await app.register(renewRoute, options)
}

/** The origin of a checkout URL, as a CSP source (none for a URL that is not http(s)). */
export function checkoutOrigin (url: string | undefined): string[] {
  if (url === undefined) return []
  try {
    const { protocol, origin } = new URL(url)
    return protocol === 'https:' || protocol === 'http:' ? [origin] : []
  } catch {
    return []
  }
}

const notFoundPage = (): string => page('Payment link not found', '<main><h1>Payment link not found</h1><p>This link does not exist. Check the address, or contact the merchant who sent it.</p></main>')

/**
 * POST /l/{code}/renew: the button on an expired or canceled link's page. Issues (or finds: one
 * renewal per link) the fresh link and sends the customer to its short URL, which opens it.
 */
async function renewRoute (fastify: FastifyInstance, options: ShortLinkRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  // The button sends an empty form; nothing in it is read.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, _body, done) => { done(null, {}) })
  const html = { content: { 'text/html': { schema: Type.String() } } }
  app.post('/l/:code/renew', {
    schema: {
      operationId: 'renewShortLink',
      tags: ['customer'],
      summary: 'An expired or canceled link\'s customer asks for a fresh link for the same payment (where the merchant allows it): redirects to its short URL',
      // The customer's browser, from the link's page: no credentials; one renewal per link.
      security: [],
      params: Type.Object({ code: Type.String({ maxLength: 100 }) }),
      response: {
        200: { description: 'The renewal link is still being issued (another request is at it): a page that moves on to its short URL by itself', ...html },
        303: { description: 'The renewal link is issued (or was already): on to its short URL (Location), which opens it', type: 'null' },
        403: { description: 'The merchant does not renew links: a page that says so', ...html },
        404: { description: 'No such link: a page that says so', ...html },
        409: { description: 'The link has not expired or been canceled: a page that says so', ...html }
      }
    }
  }, async (request, reply) => {
    customerPageHeaders(reply)
    const linkId = `lnk_${request.params.code}`
    if (!/^lnk_[A-Za-z0-9_-]{10,64}$/.test(linkId)) return reply.code(404).send(notFoundPage())
    let renewal
    try {
      renewal = await options.issuer.renew(linkId)
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === LinkErrorCodes.notFound) return reply.code(404).send(notFoundPage())
      if (code === LinkErrorCodes.renewalNotAllowed) {
        return reply.code(403).send(page('A new link cannot be issued here', `<main><h1>A new link cannot be issued here</h1><p>${escapeHtml((error as Error).message)} Ask them for a new link.</p></main>`))
      }
      if (code === LinkErrorCodes.notRenewable) {
        return reply.code(409).send(page('This link does not need renewing', `<main><h1>This link does not need renewing</h1><p>Only a link that has expired or was canceled can be renewed. <a href="/l/${escapeHtml(request.params.code)}">Back to the link</a>.</p></main>`))
      }
      if (code !== LinkErrorCodes.inProgress) throw error
      // Requested, and being issued by another request right now: this page moves on to the new
      // link's short URL by itself (its id follows from the old link's).
      const next = shortUrlOf(options.publicUrl, renewalLinkIdFor(linkId))
      return reply.header('refresh', `3; url=${next}`).header('retry-after', '3').send(page('Preparing your new payment link',
        `<main data-status="requested"><h1>Your new payment link is being prepared</h1><p>This page moves on to it by itself in a moment, or <a href="${escapeHtml(next)}">open it now</a>.</p></main>`))
    }
    // Its short URL reads the store: wait until it holds the renewal's outcome (read-your-own-write).
    await options.issuer.settle(renewal)
    return reply.code(303).header('location', shortUrlOf(options.publicUrl, renewal.linkId)).send(null)
  })
}
