import type { FastifyInstance } from 'fastify'

/**
 * Parse `application/json` bodies as Fastify does (prototype poisoning refused), except that an
 * empty body is no body: Dojo's docs tell callers to send `content-type: application/json` on
 * every request, including a bodyless cancel or DELETE, and Fastify would refuse those with 400.
 * A route that needs the raw bytes (a signature check) registers its own parser in its scope.
 */
export function acceptEmptyJsonBodies (app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') {
      done(null, undefined)
      return
    }
    void parse(request, body as string, done)
  })
}
