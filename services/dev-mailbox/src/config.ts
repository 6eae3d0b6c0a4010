import { Type, type Static } from '@sinclair/typebox'
import { ServerConfigSchema } from '@paylinks/service-kit'

/** Everything the mailbox reads from the environment, through service-kit's `loadConfig`. */
export const MailboxConfigSchema = Type.Object({
  ...ServerConfigSchema.properties,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3006, description: 'The web page and JSON API.' }),
  SMTP_HOST: Type.String({ default: '127.0.0.1', description: 'Interface the SMTP receiver listens on.' }),
  SMTP_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 2525, description: 'SMTP port; 0 picks a free one (shown on GET /api/status).' }),
  MAILBOX_MAX_MESSAGES: Type.Integer({ minimum: 1, maximum: 100_000, default: 200, description: 'How many messages are kept; the oldest go first.' }),
  MAILBOX_MAX_MESSAGE_BYTES: Type.Integer({ minimum: 1024, default: 10_485_760, description: 'Larger messages are refused (SMTP 552).' })
})
export type MailboxConfig = Static<typeof MailboxConfigSchema>

/** The options the app plugin needs: parsed from config, or given directly by tests. */
export interface MailboxOptions {
  smtpHost: string
  smtpPort: number
  maxMessages: number
  maxMessageBytes: number
}

export function mailboxOptions (config: MailboxConfig): MailboxOptions {
  return { smtpHost: config.SMTP_HOST, smtpPort: config.SMTP_PORT, maxMessages: config.MAILBOX_MAX_MESSAGES, maxMessageBytes: config.MAILBOX_MAX_MESSAGE_BYTES }
}
