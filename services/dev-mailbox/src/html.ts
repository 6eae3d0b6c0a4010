import { escapeHtml, Html, html, raw } from '@paylinks/service-kit'

export { escapeHtml, Html, html, raw }

/** Plain text with its http(s) URLs as links (opened in a new tab), everything else escaped. */
export function linkify (text: string): Html {
  let out = ''
  let last = 0
  for (const m of text.matchAll(/https?:\/\/[^\s<>"')\]]+/g)) {
    out += escapeHtml(text.slice(last, m.index))
    out += html`<a href="${m[0]}" target="_blank" rel="noopener noreferrer">${m[0]}</a>`.value
    last = m.index + m[0].length
  }
  return new Html(out + escapeHtml(text.slice(last)))
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}
header{background:#1a1a1a;color:#fff;padding:.75rem 1rem}header p{margin:0;font-weight:600}header a{color:#fff}
main{max-width:60rem;margin:1rem auto;background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 .75rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.5rem;border-bottom:1px solid #ddd;vertical-align:top}
a{color:#1d5fa0}.muted{color:#555}.actions{display:flex;gap:1rem;align-items:center;margin-bottom:1rem;flex-wrap:wrap}
button{font:inherit;padding:.4rem .9rem;border:1px solid #1a1a1a;border-radius:6px;background:#fff;color:#1a1a1a;cursor:pointer}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f5f7;padding:1rem;border-radius:8px}
iframe{width:100%;min-height:28rem;border:1px solid #ddd;border-radius:8px;background:#fff}h2{font-size:1.1rem;margin:1.25rem 0 .5rem}`

/** A whole page: styled inline, no scripts. */
export function page (title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · dev mailbox</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<header><p><a href="/">paylinks dev mailbox</a>: e-mail sent in development lands here and goes nowhere else</p></header>
<main>${body}</main>
</body>
</html>`
}
