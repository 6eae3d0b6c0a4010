import { loadConfig, startServer } from '@paylinks/service-kit'
import { app } from './app.js'
import { SandboxConfigSchema, sandboxOptions } from './config.js'

const config = loadConfig(SandboxConfigSchema)
await startServer(app, { ...sandboxOptions(config) }, config, { name: 'dojo-sandbox' })
