export { app } from './app.js'
export { MailboxConfigSchema, mailboxOptions, type MailboxConfig, type MailboxOptions } from './config.js'
export { Mailbox, type MailMessage } from './mailbox.js'
