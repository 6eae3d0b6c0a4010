import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { ServerConfig } from './config.js'
import { serverOptions } from './options.js'
import { startTracing, traceRequests } from './tracing.js'

/**
 * Own the process: build Fastify with the shared options, register the app plugin, listen, and
 * on SIGINT/SIGTERM (or a crash) close gracefully: stop accepting, let in-flight requests and
 * every `onClose` (consumers, pools) drain, and exit within `SHUTDOWN_GRACE_MS`. Tracing starts
 * first (when an OTLP endpoint is configured) and is flushed last.
 */
export async function startServer<O extends Record<string, unknown>> (
  app: FastifyPluginAsync<O>,
  appOptions: O,
  config: ServerConfig,
  options: { name: string }
): Promise<FastifyInstance> {
  const tracing = await startTracing({ serviceName: options.name })
  const server = Fastify(serverOptions(config, { name: options.name }))
  traceRequests(server)
  await server.register(app, appOptions)
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: server.log }, async function ({ signal, err }) {
    if (err !== undefined) server.log.error({ err }, 'closing after an uncaught error')
    else server.log.info({ signal }, 'closing')
    await server.close()
    await tracing.shutdown().catch((error: unknown) => { server.log.warn({ err: error }, 'could not export the last spans') })
  })
  await server.listen({ host: config.HOST, port: config.PORT })
  if (tracing.enabled) server.log.info({ url: tracing.url }, 'tracing: spans are exported over OTLP')
  return server
}
