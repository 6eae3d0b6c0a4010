import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'

const asset = (name: string): string => readFileSync(new URL(`../dashboard/${name}`, import.meta.url), 'utf8')
// Chart.js is served from its own package, as published (its UMD build sits beside its main entry).
const chartJs = readFileSync(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'), 'utf8')

/**
 * `/dashboard`: a static page that asks for an API key and polls `/v1/dashboard`. The page
 * itself holds no data, so it needs no authentication; every number comes through the key.
 */
export default async function dashboard (app: FastifyInstance): Promise<void> {
  const files: Record<string, [string, string]> = {
    'app.js': [asset('app.js'), 'text/javascript; charset=utf-8'],
    'app.css': [asset('app.css'), 'text/css; charset=utf-8'],
    'chart.js': [chartJs, 'text/javascript; charset=utf-8']
  }
  const page = asset('page.html')
  const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

  app.get('/dashboard', { schema: { tags: ['dashboard'], summary: 'The dashboard page', hide: true } }, async (_request, reply) =>
    await reply.type('text/html; charset=utf-8').header('content-security-policy', csp).header('cache-control', 'no-store').send(page))
  app.get<{ Params: { file: string } }>('/dashboard/:file', { schema: { hide: true } }, async (request, reply) => {
    const file = files[request.params.file]
    if (file === undefined) return await reply.callNotFound()
    return await reply.type(file[1]).header('cache-control', 'public, max-age=300').send(file[0])
  })
}
