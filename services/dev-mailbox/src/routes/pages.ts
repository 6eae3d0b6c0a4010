import type { FastifyInstance, FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Mailbox, MailMessage } from '../mailbox.js'
import { html, linkify, page, type Html } from '../html.js'

// The page itself runs no script and frames only its own message view.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
// A message's HTML is someone else's markup: a sandboxed document (no scripts, no forms, no
// same-origin), no fetches but inline images; links may open a new tab, outside the sandbox.
const MESSAGE_CSP = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

const Params = Type.Object({ id: Type.String({ maxLength: 100 }) })
const HtmlSchema = Type.String({ description: 'text/html' })
const tags = ['pages']

/** The web pages: the list, one message (text, and its HTML in a sandboxed frame), delete all. */
export async function pages (app: FastifyInstance, options: { mailbox: Mailbox }): Promise<void> {
  const { mailbox } = options
  const api = app.withTypeProvider<TypeBoxTypeProvider>()

  api.get('/', { schema: { tags, summary: 'The messages, newest first', response: { 200: HtmlSchema } } }, async (_request, reply) => send(reply, 200, listPage(mailbox.list())))

  api.get('/messages/:id', { schema: { tags, summary: 'One message', params: Params, response: { 200: HtmlSchema, 404: HtmlSchema } } }, async (request, reply) => {
    const message = mailbox.get(request.params.id)
    return message === undefined ? send(reply, 404, notFound()) : send(reply, 200, messagePage(message))
  })

  api.get('/messages/:id/html', { schema: { tags, summary: "A message's HTML part, as a sandboxed document", params: Params, response: { 200: HtmlSchema, 404: HtmlSchema } } }, async (request, reply) => {
    const message = mailbox.get(request.params.id)
    if (message?.html == null) return send(reply, 404, notFound())
    // <base target=_blank>: a link opens in a new tab, not inside the frame.
    return reply.code(200).type('text/html; charset=utf-8').header('content-security-policy', MESSAGE_CSP).header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store').send(`<base target="_blank">${message.html}`)
  })

  api.post('/messages/delete', { schema: { tags, summary: 'Delete every message, back to the list', response: { 303: Type.Null() } } }, async (_request, reply) => {
    mailbox.clear()
    return reply.code(303).header('location', '/').send(null)
  })
}

function send (reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('cache-control', 'no-store').send(body.value)
}

function time (iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
}

function listPage (messages: MailMessage[]): Html {
  return page('Messages', html`
<h1>Messages (${messages.length})</h1>
<div class="actions">
  <a href="/">Refresh</a>
  <a href="/api/messages">JSON</a>
  ${messages.length === 0 ? '' : html`<form method="post" action="/messages/delete"><button type="submit">Delete all</button></form>`}
</div>
${messages.length === 0
  ? html`<p class="muted">Nothing yet. Send to this mailbox's SMTP port and refresh.</p>`
  : html`<table>
  <thead><tr><th scope="col">Received</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Subject</th></tr></thead>
  <tbody>${messages.map((m) => html`<tr><td>${time(m.receivedAt)}</td><td>${m.from}</td><td>${m.to.join(', ')}</td><td><a href="/messages/${m.id}">${m.subject === '' ? '(no subject)' : m.subject}</a></td></tr>`)}</tbody>
</table>`}`)
}

function messagePage (m: MailMessage): Html {
  return page(m.subject === '' ? '(no subject)' : m.subject, html`
<p><a href="/">All messages</a></p>
<h1>${m.subject === '' ? '(no subject)' : m.subject}</h1>
<dl>
  <dt>From</dt><dd>${m.from}</dd>
  <dt>To</dt><dd>${m.to.join(', ')}</dd>
  <dt>Received</dt><dd>${time(m.receivedAt)}</dd>
  <dt>Envelope</dt><dd>${m.envelope.from} → ${m.envelope.to.join(', ')}</dd>
  <dt>Size</dt><dd>${m.size} bytes</dd>
</dl>
<h2>Text</h2>
<pre>${linkify(m.text)}</pre>
${m.html === null
? ''
: html`<h2>HTML</h2>
<iframe title="The message's HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" src="/messages/${m.id}/html"></iframe>`}`)
}

function notFound (): Html {
  return page('Not found', html`<h1>Message not found</h1><p>It may have been deleted, or pushed out by newer messages. <a href="/">All messages</a></p>`)
}
