import { loadConfig, startServer } from '@paylinks/service-kit'
import { app } from './app.js'
import { MailboxConfigSchema, mailboxOptions } from './config.js'

const config = loadConfig(MailboxConfigSchema)
await startServer(app, { ...mailboxOptions(config) }, config, { name: 'dev-mailbox' })
