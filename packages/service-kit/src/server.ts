import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { ServerConfig } from './config.js'
import { serverOptions } from './options.js'

/**
 * Own the process: build Fastify with the shared options, register the app plugin, listen, and
 * on SIGINT/SIGTERM (or a crash) close gracefully: stop accepting, let in-flight requests and
 * every `onClose` (consumers, pools) drain, and exit within `SHUTDOWN_GRACE_MS`.
 */
export async function startServer<O extends Record<string, unknown>> (
  app: FastifyPluginAsync<O>,
  appOptions: O,
  config: ServerConfig,
  options: { name: string }
): Promise<FastifyInstance> {
  const server = Fastify(serverOptions(config, { name: options.name }))
  await server.register(app, appOptions)
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: server.log }, async function ({ signal, err }) {
    if (err !== undefined) server.log.error({ err }, 'closing after an uncaught error')
    else server.log.info({ signal }, 'closing')
    await server.close()
  })
  await server.listen({ host: config.HOST, port: config.PORT })
  return server
}
