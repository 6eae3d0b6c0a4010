export { app } from './app.js'
export { SandboxConfigSchema, sandboxOptions, type SandboxConfig, type SandboxOptions } from './config.js'
export { signWebhook, verifyWebhook } from './signature.js'
