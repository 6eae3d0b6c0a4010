// The small HTML pages customers see from link-issuer (the result page, the short link's pages):
// one look, and the headers that keep them inert (no scripts, no framing, no referrer).
import type { FastifyReply } from 'fastify'
import { escapeHtml } from './mailer.js'

export { escapeHtml }

/** A whole page around `body` (HTML the caller escaped). */
export function page (title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}a.button,button{display:inline-block;padding:.6rem 1rem;background:#222;color:#fff;border:0;border-radius:.3rem;text-decoration:none;font:inherit;cursor:pointer}</style></head>
<body>${body}</body></html>`
}

/**
 * Headers of every customer page: HTML, never cached, no scripts, not framed, no referrer. Forms
 * may post nowhere, unless `formAction` names where (CSP sources: the renewal button posts to
 * `'self'`, and browsers check a form's redirects too, so the checkout's origin it ends at).
 */
export function customerPageHeaders (reply: FastifyReply, options: { formAction?: string[] } = {}): FastifyReply {
  const formAction = options.formAction === undefined || options.formAction.length === 0 ? "'none'" : options.formAction.join(' ')
  return reply.type('text/html; charset=utf-8')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action ${formAction}; frame-ancestors 'none'`)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
}
