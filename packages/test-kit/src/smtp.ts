import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { onTeardown, type TestContext } from './context.js'

export interface Mailbox {
  url: string
  messages: Array<{ from: string, to: string[], raw: string }>
}

/**
 * A real SMTP server (smtp-server) on loopback that keeps what it receives; while `refuse()` is
 * true it refuses every recipient (550), so the sender knows for certain nothing was sent.
 */
export async function startSmtp (t: TestContext, options: { refuse?: () => boolean } = {}): Promise<Mailbox> {
  const messages: Mailbox['messages'] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo (_address, _session, callback) {
      if (options.refuse?.() === true) {
        const error = new Error('mailbox unavailable') as Error & { responseCode: number }
        error.responseCode = 550
        callback(error)
      } else callback()
    },
    onData (stream, session, callback) {
      let raw = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => { raw += chunk })
      stream.on('end', () => {
        messages.push({ from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address), raw })
        callback()
      })
    }
  })
  // A sender that dies or closes mid-session resets its connection; that must not end the test.
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, async () => { await new Promise<void>((resolve) => server.close(() => { resolve() })) })
  const port = (server.server.address() as AddressInfo).port
  return { url: `smtp://127.0.0.1:${port}`, messages }
}
