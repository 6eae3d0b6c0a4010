// The web app as the console serves it (src/web.ts): the pages, their assets, and the API's
// own answers left alone. Builds nothing: a directory laid out as Vite lays out dist/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { serviceKit } from '@paylinks/service-kit'
import type { TestContext } from '@paylinks/test-kit'
import webApp from '../src/web.js'

async function serve (t: TestContext, dist: string): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(serviceKit, { name: 'console-web-test' })
  app.get('/console/api/session', async () => ({ user: null }))
  await app.register(webApp, { dist })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

function fakeDist (t: TestContext): string {
  const dist = mkdtempSync(join(tmpdir(), 'console-web-'))
  t.teardown(() => rmSync(dist, { recursive: true, force: true }))
  mkdirSync(join(dist, 'assets'))
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title><script type="module" src="/console/assets/index-abc.js"></script>')
  writeFileSync(join(dist, 'assets', 'index-abc.js'), 'console.log(1)')
  return dist
}

t.test('web should serve index.html for every page address, with a strict CSP and no caching', async (t) => {
  const app = await serve(t, fakeDist(t))
  for (const url of ['/console/', '/console/login', '/console/links/lnk_abcdefghijkl', '/console/invite/tok-123']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.body, /<title>console<\/title>/)
    t.match(res.headers['content-security-policy'], /script-src 'self'/)
    t.equal(res.headers['cache-control'], 'no-store')
  }
  const bare = await app.inject({ method: 'GET', url: '/console' })
  t.equal(bare.statusCode, 301)
  t.equal(bare.headers.location, '/console/')
})

t.test('web should serve hashed assets for good, and 404 an unknown one', async (t) => {
  const app = await serve(t, fakeDist(t))
  const js = await app.inject({ method: 'GET', url: '/console/assets/index-abc.js' })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /javascript/)
  t.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal(js.body, 'console.log(1)')
  const missing = await app.inject({ method: 'GET', url: '/console/assets/index-gone.js' })
  t.equal(missing.statusCode, 404)
  const escape = await app.inject({ method: 'GET', url: '/console/assets/..%2f..%2fetc%2fpasswd' })
  t.equal(escape.statusCode, 403, 'a path out of dist is refused')
  t.notMatch(escape.body, /root:/, 'and nothing outside dist is read')
})

t.test('web should leave /console/api to the API: its routes answer, an unknown one is a problem 404', async (t) => {
  const app = await serve(t, fakeDist(t))
  t.same((await app.inject({ method: 'GET', url: '/console/api/session' })).json(), { user: null })
  const unknown = await app.inject({ method: 'GET', url: '/console/api/nothing-here' })
  t.equal(unknown.statusCode, 404)
  t.match(unknown.headers['content-type'], /application\/problem\+json/)
})

t.test('web should answer pages with a 503 problem while the app is not built, and serve it once it is', async (t) => {
  const dist = join(mkdtempSync(join(tmpdir(), 'console-web-')), 'dist')
  t.teardown(() => rmSync(join(dist, '..'), { recursive: true, force: true }))
  const app = await serve(t, dist)
  const res = await app.inject({ method: 'GET', url: '/console/login' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'CONSOLE_WEB_NOT_BUILT' })
  mkdirSync(dist)
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>built</title>')
  t.match((await app.inject({ method: 'GET', url: '/console/login' })).body, /built/)
})
