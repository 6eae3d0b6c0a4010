import { loadConfig, startServer } from '@paylinks/service-kit'
import app from './app.js'
import { ProjectorConfigSchema } from './config.js'

const config = loadConfig(ProjectorConfigSchema)
await startServer(app, { config }, config, { name: 'projector' })
