import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { serviceKit } from '@paylinks/service-kit'
import type { SandboxOptions } from './config.js'
import { Sandbox } from './sandbox.js'
import { checkout } from './routes/checkout.js'
import { dojoApi } from './routes/dojo-api.js'
import { sandboxControls } from './routes/sandbox-controls.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The emulated Dojo state; tests and the bench reach in through it. */
    sandbox: Sandbox
  }
}

/**
 * The Dojo sandbox emulator as a Fastify plugin: service-kit's infrastructure, then Dojo's API
 * at its real paths, the hosted checkout page, and the /sandbox controls.
 */
export const app = fp(async function dojoSandbox (app: FastifyInstance, options: SandboxOptions) {
  await app.register(serviceKit, {
    name: 'dojo-sandbox',
    description: "An offline emulator of Dojo's sandbox (https://api.dojo.tech). Routes tagged sandbox-controls are not Dojo's: they exist only here.",
    publicUrl: options.publicUrl,
    // Dojo's scheme: the raw secret key after `Basic` (not base64), e.g. `Authorization: Basic sk_sandbox_…`.
    securitySchemes: { dojoKey: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Basic sk_sandbox_… (the key itself, not base64)' } }
  })
  const sandbox = new Sandbox(options, app.metrics)
  app.decorate('sandbox', sandbox)
  app.addHook('onClose', async () => { await sandbox.close() })
  // Every change a request made is on disk before its answer leaves (with SANDBOX_STATE_DIR).
  app.addHook('onSend', async () => { sandbox.flush() })
  await app.register(dojoApi, { sandbox })
  await app.register(checkout, { sandbox })
  await app.register(sandboxControls, { sandbox, prefix: '/sandbox' })
}, { name: 'dojo-sandbox', fastify: '5.x' })
