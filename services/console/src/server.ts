import { loadConfig, startServer } from '@paylinks/service-kit'
import app from './app.js'
import { ConsoleConfigSchema } from './config.js'

const config = loadConfig(ConsoleConfigSchema)
await startServer(app, { config }, config, { name: 'console' })
