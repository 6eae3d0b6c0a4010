import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { serviceKit } from '@paylinks/service-kit'
import type { MailboxOptions } from './config.js'
import { Mailbox } from './mailbox.js'
import { jsonApi } from './routes/api.js'
import { pages } from './routes/pages.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The messages received; tests reach in through it. */
    mailbox: Mailbox
  }
}

/**
 * The development mailbox as a Fastify plugin: service-kit's infrastructure, an SMTP receiver
 * started with the app (closed with it), the web pages at `/` and the JSON API at `/api`.
 */
export const app = fp(async function devMailbox (app: FastifyInstance, options: MailboxOptions) {
  await app.register(serviceKit, {
    name: 'dev-mailbox',
    description: 'A development mailbox: every e-mail sent to its SMTP port is kept (the last few hundred) and shown, never delivered.'
  })
  const mailbox = new Mailbox({ maxMessages: options.maxMessages, maxMessageBytes: options.maxMessageBytes })
  const port = await mailbox.listen(options.smtpHost, options.smtpPort)
  app.log.info({ host: options.smtpHost, port }, 'smtp listening')
  app.decorate('mailbox', mailbox)
  app.addHook('onClose', async () => { await mailbox.close() })
  await app.register(pages, { mailbox })
  await app.register(jsonApi, { mailbox, smtpHost: options.smtpHost, maxMessages: options.maxMessages, prefix: '/api' })
}, { name: 'dev-mailbox', fastify: '5.x' })
