import { loadConfig, startServer } from '@paylinks/service-kit'
import app from './app.js'
import { RecorderConfigSchema } from './config.js'

const config = loadConfig(RecorderConfigSchema)
await startServer(app, { config }, config, { name: 'event-recorder' })
