import t from 'tap'
import { admin } from '../src/admin-cli.js'
import { browser, buildConsole } from './helpers.js'

const world = await buildConsole(t)

async function run (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await admin(argv, { env: { DATABASE_URL: world.url, CONSOLE_PUBLIC_URL: 'http://console.paylinks.test', PAYLINKS_DATA_DIR: '/nonexistent' }, out: (s) => { out += s }, err: (s) => { err += s } })
  return { code, out, err }
}

t.test('pnpm admin console owner should print a one-time URL at which the first owner chooses a password and is signed in', async (t) => {
  const email = `first-${Date.now()}@shop.example`
  const made = await run('owner', '--merchant', world.merchantId, '--email', email, '--name', 'Ada Owner')
  t.equal(made.code, 0, made.err)
  const token = /http:\/\/console\.paylinks\.test\/console\/invite\/([A-Za-z0-9_-]+)/.exec(made.out)?.[1]
  t.ok(token, made.out)
  const b = browser(world.app)
  await b.session()
  t.match((await b.request('GET', `/console/api/invites/${token!}`)).body, { email, name: 'Ada Owner', role: 'owner', merchant: { tradingName: 'Corner Café' } })
  const accepted = await b.request('POST', `/console/api/invites/${token!}`, { name: 'Ada Owner', password: 'first owner password' })
  t.match(accepted.body, { user: { email, role: 'owner' } })
  b.csrf = accepted.body.csrfToken
  t.equal((await b.request('POST', `/console/api/invites/${token!}`, { name: 'Again', password: 'first owner password' })).status, 410, 'once')
  const again = await run('owner', '--merchant', world.merchantId, '--email', email)
  t.equal(again.code, 1, 'an account with that e-mail exists')
  t.equal((await run('owner', '--merchant', 'mer_nobody', '--email', 'x@shop.example')).code, 1)
  t.equal((await run('owner', '--email', 'x@shop.example')).code, 2, 'usage')
})
