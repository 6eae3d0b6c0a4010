import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { simpleParser, type AddressObject } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/** One message as it arrived: the envelope, the parsed headers and parts, and the links in it. */
export interface MailMessage {
  id: string
  receivedAt: string
  /** SMTP envelope: who the client said it sends as, and to whom. */
  envelope: { from: string, to: string[] }
  from: string
  to: string[]
  subject: string
  text: string
  html: string | null
  /** Every http(s) URL in the text and the HTML's links, in order, once each. */
  links: string[]
  size: number
}

/**
 * An SMTP receiver (smtp-server) that parses each message (mailparser) and keeps the last
 * `maxMessages` in memory. It accepts any sender, recipient and credentials: it is for
 * development, where nothing it receives must reach a real inbox.
 */
export class Mailbox {
  readonly #messages: MailMessage[] = []
  readonly #server: SMTPServer
  readonly #maxMessages: number
  #port = 0

  constructor (options: { maxMessages: number, maxMessageBytes: number }) {
    this.#maxMessages = options.maxMessages
    this.#server = new SMTPServer({
      banner: 'paylinks dev-mailbox: nothing here leaves this machine',
      authOptional: true,
      allowInsecureAuth: true,
      // No certificate in development: STARTTLS is not offered, so clients send in the clear.
      disabledCommands: ['STARTTLS'],
      size: options.maxMessageBytes,
      socketTimeout: 30_000,
      onAuth: (auth, _session, callback) => { callback(null, { user: auth.username ?? 'dev' }) },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = []
        let size = 0
        stream.on('data', (chunk: Buffer) => {
          // Past the limit the rest is drained, not kept: memory stays bounded.
          size += chunk.length
          if (!stream.sizeExceeded) chunks.push(chunk)
        })
        stream.on('error', (error) => { callback(error) })
        stream.on('end', () => {
          if (stream.sizeExceeded) {
            callback(Object.assign(new Error(`Message too large: over ${options.maxMessageBytes} bytes`), { responseCode: 552 }))
            return
          }
          const envelope = {
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address)
          }
          this.#receive(Buffer.concat(chunks), size, envelope).then(() => { callback() }, (error: unknown) => {
            callback(Object.assign(new Error(`Message could not be parsed: ${error instanceof Error ? error.message : String(error)}`), { responseCode: 554 }))
          })
        })
      }
    })
    this.#server.on('error', () => { /* a client's broken connection: smtp-server already answered it */ })
  }

  /** Start receiving on host:port (0: a free port); resolves with the port. */
  async listen (host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.server.once('error', reject)
      this.#server.listen(port, host, () => { this.#server.server.off('error', reject); resolve() })
    })
    this.#port = (this.#server.server.address() as AddressInfo).port
    return this.#port
  }

  get port (): number {
    return this.#port
  }

  /** Newest first. */
  list (): MailMessage[] {
    return [...this.#messages].reverse()
  }

  get (id: string): MailMessage | undefined {
    return this.#messages.find((m) => m.id === id)
  }

  clear (): number {
    return this.#messages.splice(0).length
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.#server.close(() => { resolve() }) })
  }

  async #receive (raw: Buffer, size: number, envelope: MailMessage['envelope']): Promise<void> {
    const parsed = await simpleParser(raw, { skipImageLinks: true })
    const text = parsed.text ?? ''
    const html = typeof parsed.html === 'string' ? parsed.html : null
    const message: MailMessage = {
      id: `msg_${randomBytes(9).toString('base64url')}`,
      receivedAt: new Date().toISOString(),
      envelope,
      from: addresses(parsed.from).join(', '),
      to: addresses(parsed.to),
      subject: parsed.subject ?? '',
      text,
      html,
      links: links(text, html),
      size
    }
    this.#messages.push(message)
    if (this.#messages.length > this.#maxMessages) this.#messages.splice(0, this.#messages.length - this.#maxMessages)
  }
}

function addresses (field: AddressObject | AddressObject[] | undefined): string[] {
  if (field === undefined) return []
  return (Array.isArray(field) ? field : [field]).flatMap((a) => a.value.map((v) => v.address ?? v.name))
}

const URL_IN_TEXT = /https?:\/\/[^\s<>"')\]]+/g
const HREF = /href\s*=\s*["']?(https?:\/\/[^"'\s>]+)/gi

function links (text: string, html: string | null): string[] {
  const found = [...text.matchAll(URL_IN_TEXT)].map((m) => m[0])
  if (html !== null) found.push(...[...html.matchAll(HREF)].map((m) => m[1]!.replace(/&amp;/g, '&')))
  return [...new Set(found)]
}
