import { loadConfig, startServer } from '@paylinks/service-kit'
import app from './app.js'
import { LinkIssuerConfigSchema } from './config.js'

const config = loadConfig(LinkIssuerConfigSchema)
await startServer(app, { config }, config, { name: 'link-issuer' })
