import { loadConfig, startServer } from '@paylinks/service-kit'
import app from './app.js'
import { IngestConfigSchema } from './config.js'

const config = loadConfig(IngestConfigSchema)
await startServer(app, { config }, config, { name: 'webhook-ingest' })
