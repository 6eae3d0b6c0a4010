import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import nodemailer, { type Transporter } from 'nodemailer'
import { loadConfig, serverOptions } from '@paylinks/service-kit'
import type { TestContext } from '@paylinks/test-kit'
import { app } from '../src/app.js'
import { MailboxConfigSchema, mailboxOptions, type MailboxOptions } from '../src/config.js'

const config = loadConfig(MailboxConfigSchema, { LOG_LEVEL: 'silent', SMTP_PORT: '0' })

/** The mailbox listening on 127.0.0.1: HTTP and SMTP each on a free port; closed at teardown. */
export async function startMailbox (t: TestContext, overrides: Partial<MailboxOptions> = {}): Promise<{ app: FastifyInstance, url: string, smtpUrl: string }> {
  const server = Fastify(serverOptions(config, { pretty: false }))
  await server.register(app, { ...mailboxOptions(config), ...overrides })
  t.teardown(() => server.close())
  await server.listen({ host: '127.0.0.1', port: 0 })
  return { app: server, url: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`, smtpUrl: `smtp://127.0.0.1:${server.mailbox.port}` }
}

/** nodemailer, as link-issuer sends: a real SMTP client with timeouts; closed at teardown. */
export function smtpClient (t: TestContext, url: string): Transporter {
  const transport = nodemailer.createTransport({ url, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 5000 } as any)
  t.teardown(() => { transport.close() })
  return transport
}
