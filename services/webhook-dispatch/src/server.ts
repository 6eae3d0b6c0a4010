import { loadConfig, startServer } from '@paylinks/service-kit'
import app from './app.js'
import { WebhookDispatchConfigSchema } from './config.js'

const config = loadConfig(WebhookDispatchConfigSchema)
await startServer(app, { config }, config, { name: 'webhook-dispatch' })
