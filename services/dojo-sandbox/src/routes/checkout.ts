import type { FastifyInstance, FastifyReply } from 'fastify'
import { routeDefaults } from '@paylinks/service-kit'
import formbody from '@fastify/formbody'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CHALLENGE_CODE, TEST_CARD_LIST, validateCard, type CardField } from '../cards.js'
import type { Intent, PaymentOutcome, Sandbox } from '../sandbox.js'
import { html, page, raw, type Html } from './html.js'

const ParamsSchema = Type.Object({ paymentIntentId: Type.String({ maxLength: 100 }) })
const CardFormSchema = Type.Object({
  cardNumber: Type.String({ maxLength: 40, default: '' }),
  expiry: Type.String({ maxLength: 10, default: '' }),
  cvv: Type.String({ maxLength: 10, default: '' }),
  cardName: Type.String({ maxLength: 100, default: '' })
})
const ChallengeFormSchema = Type.Object({
  token: Type.String({ maxLength: 100, default: '' }),
  code: Type.String({ maxLength: 20, default: '' })
})
const HtmlSchema = Type.String({ description: 'text/html' })
const responses = { 200: HtmlSchema, 303: Type.Null(), 400: HtmlSchema, 404: HtmlSchema, 409: HtmlSchema }

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

/**
 * The hosted checkout page at /checkout/<id>: plain server-rendered HTML forms, so it works on
 * any phone without JavaScript. Card data lives only for the request; only its mask is kept.
 */
export async function checkout (app: FastifyInstance, options: { sandbox: Sandbox }): Promise<void> {
  const { sandbox } = options
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  // The customer's browser: no key.
  routeDefaults(app, { security: [] })
  await app.register(formbody)
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP)
    reply.header('cache-control', 'no-store')
    reply.header('referrer-policy', 'no-referrer')
  })

  const tags = ['checkout']

  api.get('/checkout/:paymentIntentId', {
    schema: { operationId: 'getCheckoutPage', tags, summary: 'The hosted checkout page of a payment link', params: ParamsSchema, response: responses }
  }, async (request, reply) => {
    const intent = sandbox.findIntent(request.params.paymentIntentId)
    if (intent === undefined) return send(reply, 404, notFoundPage())
    if (intent.status !== 'Created') return send(reply, 200, closedPage(sandbox, intent))
    return send(reply, 200, cardPage(sandbox, intent, {}))
  })

  api.post('/checkout/:paymentIntentId', {
    schema: { operationId: 'submitCheckoutCard', tags, summary: 'Pay with a card', params: ParamsSchema, body: CardFormSchema, consumes: ['application/x-www-form-urlencoded'], response: responses }
  }, async (request, reply) => {
    const intent = sandbox.findIntent(request.params.paymentIntentId)
    if (intent === undefined) return send(reply, 404, notFoundPage())
    if (intent.status !== 'Created') return send(reply, 409, closedPage(sandbox, intent))
    const card = request.body
    const errors = validateCard(card, new Date(), sandbox.options.legacyTestExpiry)
    if (Object.keys(errors).length > 0) return send(reply, 400, cardPage(sandbox, intent, { errors, values: { expiry: card.expiry, cardName: card.cardName } }))
    return outcome(reply, sandbox, intent, sandbox.pay(intent, card))
  })

  api.post('/checkout/:paymentIntentId/challenge', {
    schema: { operationId: 'submitCheckoutChallenge', tags, summary: 'Answer the 3-D Secure challenge', params: ParamsSchema, body: ChallengeFormSchema, consumes: ['application/x-www-form-urlencoded'], response: responses }
  }, async (request, reply) => {
    const intent = sandbox.findIntent(request.params.paymentIntentId)
    if (intent === undefined) return send(reply, 404, notFoundPage())
    if (intent.status !== 'Created') return send(reply, 409, closedPage(sandbox, intent))
    if (intent.challenge === undefined || intent.challenge.token !== request.body.token) {
      return send(reply, 409, cardPage(sandbox, intent, { banner: 'The verification has expired. Please enter your card details again.' }))
    }
    if (request.body.code.trim() === '') return send(reply, 400, challengePage(sandbox, intent, request.body.token, 'Enter the verification code.'))
    return outcome(reply, sandbox, intent, sandbox.completeChallenge(intent, request.body.token, request.body.code))
  })
}

function send (reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body.value)
}

function outcome (reply: FastifyReply, sandbox: Sandbox, intent: Intent, result: PaymentOutcome): FastifyReply {
  if (result.outcome === 'Declined') return send(reply, 200, cardPage(sandbox, intent, { banner: 'Your card was declined. No money was taken. Please try another card.' }))
  if (result.outcome === 'ChallengeRequired') return send(reply, 200, challengePage(sandbox, intent, result.challengeToken))
  const redirectUrl = intent.request.config?.redirectUrl
  if (redirectUrl != null && redirectUrl !== '') return reply.code(303).header('location', redirectUrl).send()
  return send(reply, 200, paidPage(sandbox, intent, 'Payment successful', 'Thank you: your payment was successful.'))
}

const OUTCOMES = { success: 'Payment succeeds', challenge: `3-D Secure challenge: code ${CHALLENGE_CODE} passes, anything else declines`, declined: 'Declined' }

// Every payable page says plainly that this is the sandbox, and how to pay in it.
function sandboxBanner (): Html {
  return html`<aside class="sandbox" aria-labelledby="sandbox-title">
    <h2 id="sandbox-title">Sandbox: no real money moves</h2>
    <p>This is Dojo's sandbox. Pay with a test card (expiry ${TEST_CARD_LIST[0]?.expiry ?? '12/29'}, or any future date); the 3-D Secure code is <strong data-testid="challenge-code">${CHALLENGE_CODE}</strong>.</p>
    <table>
      <caption>Test cards</caption>
      <thead><tr><th scope="col">Card number</th><th scope="col">Security code</th><th scope="col">Outcome</th></tr></thead>
      <tbody>${TEST_CARD_LIST.map((c) => html`<tr><td>${c.number}</td><td>${c.cvv}</td><td>${OUTCOMES[c.outcome]}</td></tr>`)}</tbody>
    </table>
  </aside>`
}

function summary (sandbox: Sandbox, intent: Intent): Html {
  const r = intent.request
  const total = r.amount.value + (r.tipsAmount?.value ?? 0)
  const showReference = r.config?.details?.showReference !== false
  return html`<header>
    <p class="merchant">${sandbox.tradingName(intent)}</p>
    ${r.config?.title == null ? '' : html`<h1>${r.config.title}</h1>`}
    <p class="amount" data-testid="amount">${formatAmount(total, r.amount.currencyCode)}</p>
    ${showReference ? html`<p class="reference">Reference: <span>${r.reference}</span></p>` : ''}
  </header>`
}

/** Minor units to a localised amount: 1050 GBP → £10.50. */
export function formatAmount (minor: number, currency: string): string {
  const format = new Intl.NumberFormat('en-GB', { style: 'currency', currency })
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2
  return format.format(minor / 10 ** digits)
}

function cancelLink (intent: Intent): Html | string {
  const url = intent.request.config?.cancelUrl
  return url == null || url === '' ? '' : html`<a class="cancel" href="${url}">Cancel</a>`
}

function field (name: CardField, label: string, attrs: Html, errors: Partial<Record<CardField, string>>, hint?: string): Html {
  const error = errors[name]
  const describedBy = [hint === undefined ? '' : `${name}-hint`, error === undefined ? '' : `${name}-error`].filter((x) => x !== '').join(' ')
  return html`<div class="field${error === undefined ? '' : ' invalid'}">
    <label for="${name}">${label}</label>
    ${hint === undefined ? '' : html`<span class="hint" id="${name}-hint">${hint}</span>`}
    <input id="${name}" name="${name}" ${attrs}${describedBy === '' ? '' : html` aria-describedby="${describedBy}"`}${error === undefined ? '' : raw(' aria-invalid="true"')}>
    ${error === undefined ? '' : html`<p class="error" id="${name}-error">${error}</p>`}
  </div>`
}

function cardPage (sandbox: Sandbox, intent: Intent, state: { errors?: Partial<Record<CardField, string>>, values?: { expiry: string, cardName: string }, banner?: string }): Html {
  const errors = state.errors ?? {}
  const values = state.values ?? { expiry: '', cardName: '' }
  const count = Object.keys(errors).length
  return page(`Pay ${sandbox.tradingName(intent)}`, html`
  ${sandboxBanner()}
  ${summary(sandbox, intent)}
  <main>
    ${state.banner === undefined ? '' : html`<div class="banner" role="alert">${state.banner}</div>`}
    ${count === 0 ? '' : html`<div class="banner" role="alert">Please correct ${count === 1 ? 'the highlighted field' : 'the highlighted fields'}.</div>`}
    <form method="post" action="/checkout/${intent.id}" novalidate>
      ${field('cardNumber', 'Card number', raw('type="text" inputmode="numeric" autocomplete="cc-number" maxlength="23" required'), errors)}
      <div class="row">
        ${field('expiry', 'Expiry date', html`type="text" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/YY" maxlength="7" required value="${values.expiry}"`, errors, 'MM/YY')}
        ${field('cvv', 'Security code', raw('type="text" inputmode="numeric" autocomplete="cc-csc" maxlength="4" required'), errors)}
      </div>
      ${field('cardName', 'Name on card', html`type="text" autocomplete="cc-name" maxlength="100" required value="${values.cardName}"`, errors)}
      <button type="submit">Pay</button>
      ${cancelLink(intent)}
    </form>
  </main>`)
}

function challengePage (sandbox: Sandbox, intent: Intent, token: string, error?: string): Html {
  return page('Verify your payment', html`
  ${sandboxBanner()}
  ${summary(sandbox, intent)}
  <main>
    <h2>Verify it's you</h2>
    <p>Your bank needs to confirm this payment (3-D Secure). Enter the verification code it sent you.</p>
    <form method="post" action="/checkout/${intent.id}/challenge" novalidate>
      <input type="hidden" name="token" value="${token}">
      <div class="field${error === undefined ? '' : ' invalid'}">
        <label for="code">Verification code</label>
        <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="20" required${error === undefined ? '' : raw(' aria-invalid="true" aria-describedby="code-error"')}>
        ${error === undefined ? '' : html`<p class="error" id="code-error">${error}</p>`}
      </div>
      <button type="submit">Submit</button>
      ${cancelLink(intent)}
    </form>
  </main>`)
}

function paidPage (sandbox: Sandbox, intent: Intent, title: string, message: string): Html {
  return page(title, html`${summary(sandbox, intent)}<main><div class="done" role="status"><h2>${title}</h2><p>${message}</p></div></main>`)
}

function closedPage (sandbox: Sandbox, intent: Intent): Html {
  if (intent.status === 'Authorized' || intent.status === 'Captured' || intent.status === 'Refunded') {
    return paidPage(sandbox, intent, 'Already paid', 'This payment link has already been paid.')
  }
  const why = intent.status === 'Canceled' && sandbox.isExpired(intent) ? 'This payment link has expired' : 'This payment link has been canceled'
  return page('Payment link closed', html`${summary(sandbox, intent)}<main><div class="done" role="status"><h2>${why}</h2><p>It can no longer be paid.</p></div></main>`)
}

function notFoundPage (): Html {
  return page('Payment link not found', html`<main><h1>Payment link not found</h1><p>Check the link you were sent.</p></main>`)
}
