import { escapeHtml, Html, html, raw } from '@paylinks/service-kit'

export { escapeHtml, Html, html, raw }

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}
.wrap{max-width:28rem;margin:0 auto;padding:1rem}header,main{background:#fff;border-radius:12px;padding:1.25rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.merchant{font-weight:600;margin:0}h1{font-size:1.1rem;margin:.25rem 0}.amount{font-size:2rem;font-weight:700;margin:.25rem 0}.reference{margin:0;color:#555}
.field{margin-bottom:1rem}.row{display:flex;gap:1rem}.row .field{flex:1}label{display:block;font-weight:600;margin-bottom:.25rem}
.hint{display:block;color:#555;font-size:.875rem}input{width:100%;font-size:1.125rem;padding:.7rem;border:1px solid #888;border-radius:8px}
input:focus{outline:3px solid #1d70b8;outline-offset:1px}.invalid input{border:2px solid #b00020}.error{color:#b00020;margin:.25rem 0 0;font-weight:600}
button{width:100%;font-size:1.125rem;font-weight:700;padding:.85rem;border:0;border-radius:8px;background:#00703c;color:#fff;cursor:pointer;min-height:48px}
.cancel{display:block;text-align:center;margin-top:1rem;color:#1d70b8;padding:.5rem}.banner{background:#fdecea;border-left:4px solid #b00020;padding:.75rem;margin-bottom:1rem}
.done h2{margin-top:0}
.sandbox{background:#fff4ce;border:2px solid #8a6d00;border-radius:12px;padding:1rem;margin-bottom:1rem;font-size:.9375rem}
.sandbox h2{font-size:1rem;margin:0 0 .25rem}.sandbox p{margin:0 0 .5rem}.sandbox table{border-collapse:collapse;width:100%}
.sandbox caption{text-align:left;font-weight:600}.sandbox th,.sandbox td{text-align:left;padding:.2rem .4rem .2rem 0;vertical-align:top}
.sandbox td:first-child{white-space:nowrap;font-variant-numeric:tabular-nums}`

/** A whole page: small, styled inline, no scripts. */
export function page (title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${raw(STYLE)}</style>
</head>
<body><div class="wrap">${body}</div></body>
</html>`
}
