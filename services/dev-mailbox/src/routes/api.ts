import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ProblemSchema, ServiceError } from '@paylinks/service-kit'
import type { Mailbox } from '../mailbox.js'

export const MessageSchema = Type.Object({
  id: Type.String(),
  receivedAt: Type.String({ format: 'date-time' }),
  envelope: Type.Object({ from: Type.String(), to: Type.Array(Type.String()) }),
  from: Type.String(),
  to: Type.Array(Type.String()),
  subject: Type.String(),
  text: Type.String(),
  html: Type.Union([Type.String(), Type.Null()]),
  links: Type.Array(Type.String(), { description: 'Every http(s) URL in the text and the HTML links, once each' }),
  size: Type.Integer({ description: 'Bytes as received' })
}, { title: 'MailMessage' })

const StatusSchema = Type.Object({
  smtp: Type.Object({ host: Type.String(), port: Type.Integer() }),
  messages: Type.Integer(),
  maxMessages: Type.Integer()
}, { title: 'MailboxStatus' })

const tags = ['messages']

/** The JSON API, for tests and tools: list, one message, delete all, where SMTP listens. */
export async function jsonApi (app: FastifyInstance, options: { mailbox: Mailbox, smtpHost: string, maxMessages: number }): Promise<void> {
  const { mailbox } = options
  const api = app.withTypeProvider<TypeBoxTypeProvider>()

  api.get('/status', { schema: { tags, summary: 'Where the SMTP receiver listens, and how many messages are kept', response: { 200: StatusSchema } } },
    async () => ({ smtp: { host: options.smtpHost, port: mailbox.port }, messages: mailbox.list().length, maxMessages: options.maxMessages }))

  api.get('/messages', {
    schema: {
      tags,
      summary: 'The kept messages, newest first; `to` keeps those sent to that address',
      querystring: Type.Object({ to: Type.Optional(Type.String({ maxLength: 320 })) }),
      response: { 200: Type.Object({ data: Type.Array(MessageSchema) }) }
    }
  }, async (request) => {
    const to = request.query.to?.toLowerCase()
    return { data: mailbox.list().filter((m) => to === undefined || m.to.some((a) => a.toLowerCase() === to) || m.envelope.to.some((a) => a.toLowerCase() === to)) }
  })

  api.get('/messages/:id', {
    schema: { tags, summary: 'One message', params: Type.Object({ id: Type.String({ maxLength: 100 }) }), response: { 200: MessageSchema, 404: ProblemSchema } }
  }, async (request) => {
    const message = mailbox.get(request.params.id)
    if (message === undefined) throw new ServiceError('MAILBOX_NOT_FOUND', 404, `No message ${request.params.id}: deleted, or pushed out by newer ones.`)
    return message
  })

  api.delete('/messages', { schema: { tags, summary: 'Delete every message', response: { 200: Type.Object({ deleted: Type.Integer() }) } } },
    async () => ({ deleted: mailbox.clear() }))
}
