// Server-rendered HTML with escaping by default: `html` escapes every interpolated value unless
// it is already `Html` (made only by `html` and `raw`). The pages services serve to people
// (the sandbox's checkout, the dev mailbox) are built with it.

/** HTML that is already escaped. Only `html` and `raw` make one. */
export class Html {
  constructor (readonly value: string) {}
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text made safe for HTML content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}

/** Trusted markup, for literal strings written in the code (never for input). */
export function raw (value: string): Html {
  return new Html(value)
}

type Part = Html | Html[] | string | number | undefined | null

/** A template tag that escapes every interpolated value unless it is already Html. */
export function html (strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    out += value instanceof Html ? value.value : Array.isArray(value) ? value.map((v) => v.value).join('') : escapeHtml(String(value ?? ''))
    out += strings[i + 1] ?? ''
  })
  return new Html(out)
}
