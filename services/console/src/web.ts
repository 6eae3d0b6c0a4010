import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ServiceError } from '@paylinks/service-kit'

/** Where Vite builds the web app (services/console/web, `pnpm --filter @paylinks/console-web build`). */
export const WEB_DIST = fileURLToPath(new URL('../web/dist/', import.meta.url))

// The app's own files only; the QR code is an image from /console/api, same origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/**
 * The web app under /console/: hashed assets cached for good, and index.html for every other
 * GET that is not the API, so a reload or a link from an e-mail lands on the page it names (the
 * app routes in the browser). Without a build the API still works; pages answer 503.
 */
async function webApp (app: FastifyInstance, options: { dist?: string }): Promise<void> {
  const dist = options.dist ?? WEB_DIST
  let page: string | undefined
  const indexHtml = async (): Promise<string> => {
    page ??= await readFile(join(dist, 'index.html'), 'utf8').catch(() => undefined)
    if (page === undefined) throw new ServiceError('CONSOLE_WEB_NOT_BUILT', 503, 'The console\'s web app is not built: run pnpm --filter @paylinks/console-web build.', { expose: true })
    return page
  }

  // Its own scope, so reply.sendFile stays out of the API's routes.
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, { root: dist, serve: false })
    scope.get('/console', { schema: { hide: true } }, async (_request, reply) => await reply.redirect('/console/', 301))
    scope.get<{ Params: { '*': string } }>('/console/*', { schema: { hide: true } }, async (request, reply) => {
      const path = request.params['*']
      if (path === 'api' || path.startsWith('api/')) return await reply.callNotFound()
      if (path.startsWith('assets/')) {
        // Vite names each asset by its content hash: a new build is new names.
        return await reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(path, { cacheControl: false })
      }
      return await reply.type('text/html; charset=utf-8').header('content-security-policy', csp).header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff').send(await indexHtml())
    })
  })
}

export default fp(webApp, { name: 'console-web', fastify: '5.x' })
