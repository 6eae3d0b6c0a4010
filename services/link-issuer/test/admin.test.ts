import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { writeLocalSetup } from '@paylinks/service-kit'
import { auth, buildIssuer, createTestMerchant, ENCRYPTION_KEY, issuerEnv, runAdmin, runAdminProcess } from './helpers.js'

const env = await issuerEnv(t, { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' })

const admin = async (...args: string[]): Promise<{ code: number, out: string, err: string }> => await runAdmin({ DATABASE_URL: env.DATABASE_URL!, SECRETS_ENCRYPTION_KEYS: ENCRYPTION_KEY }, ...args)

t.test('the admin CLI should create merchants and keys, list them, revoke, and explain bad usage', async (t) => {
  const created = await admin('merchant', 'create', '--name', 'Cli Shop', '--dojo-key', 'sk_sandbox_clitestkey1234', '--dojo-url', 'http://127.0.0.1:4010', '--redirect-url', 'https://cli.example/done', '--link-expiry-hours', '48', '--json')
  t.equal(created.code, 0, created.err)
  const merchant = JSON.parse(created.out)
  t.match(merchant, { id: /^mer_/, name: 'Cli Shop', linkExpiryHours: 48, dojoKeyLast4: '1234' })
  t.notMatch(created.out, /sk_sandbox_clitestkey/, 'the Dojo key is never printed')
  const key = await admin('key', 'create', '--merchant', merchant.id, '--label', 'partner', '--json')
  t.equal(key.code, 0, key.err)
  const { key: secret, keyId } = JSON.parse(key.out)
  t.match(secret, /^plk_/)
  const keys = await admin('key', 'list', '--merchant', merchant.id)
  t.match(keys.out, keyId)
  t.notMatch(keys.out, secret, 'a key is shown once')
  t.equal((await admin('key', 'revoke', keyId)).code, 0)
  t.equal((await admin('key', 'revoke', keyId)).code, 1, 'revoking twice says there is no active key')
  t.equal((await admin('key', 'revoke', '-d3AbCdEfGhIjKlM')).code, 1, 'a key id that begins with - is an id, not an option')
  for (const args of [['merchant', 'fly'], ['key', 'create', '--label', 'x']]) {
    const res = await admin(...args)
    t.equal(res.code, 2, `${args.join(' ')}: exit 2`)
    t.match(res.err + res.out, /usage: pnpm admin/)
  }
  const badKey = await admin('merchant', 'create', '--name', 'x', '--dojo-key', 'sk_live_nope', '--dojo-url', 'http://127.0.0.1:1')
  t.equal(badKey.code, 1)
  t.match(badKey.err, /sk_sandbox_ or sk_prod_/)
})

t.test('the partner API should rate-limit each API key on its own', async (t) => {
  const app = await buildIssuer(t, env)
  const a = await createTestMerchant(t, env, 'http://127.0.0.1:9')
  const b = await createTestMerchant(t, env, 'http://127.0.0.1:9')
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(a.apiKey) })).statusCode)
  t.same(codes, [200, 200, 200, 429])
  const limited = await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(a.apiKey) })
  t.match(limited.json(), { status: 429, code: 'LINK_RATE_LIMITED' })
  t.match(limited.headers['content-type'], /problem\+json/)
  t.ok(limited.headers['retry-after'])
  t.equal((await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(b.apiKey) })).statusCode, 200, 'another key is not limited')
})

t.test('the partner API should count links and money routes against one budget per API key', async (t) => {
  const app = await buildIssuer(t, env)
  const m = await createTestMerchant(t, env, 'http://127.0.0.1:9')
  const list = async (): Promise<number> => (await app.inject({ method: 'GET', url: '/v1/payment-links', headers: auth(m.apiKey) })).statusCode
  const release = await app.inject({ method: 'POST', url: '/v1/payment-links/lnk_nosuchlinkatall/release', headers: auth(m.apiKey) })
  t.equal(release.statusCode, 404, release.body)
  t.same([await list(), await list(), await list()], [200, 200, 429], 'the release spent one of the three requests of the window')
})

t.test('after pnpm start, the admin CLI should find the database and the secrets key in the data directory, the variables unset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'paylinks-data-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  writeLocalSetup(dir, { DATABASE_URL: env.DATABASE_URL!, NATS_URL: 'nats://127.0.0.1:4222' })
  writeFileSync(join(dir, 'secrets.key'), ENCRYPTION_KEY + '\n', { mode: 0o600 })
  const unset = { DATABASE_URL: '', SECRETS_ENCRYPTION_KEYS: '', NATS_URL: '', PAYLINKS_DATA_DIR: dir }
  // As a process: what it reads is the environment it starts with.
  const created = await runAdminProcess(unset, 'merchant', 'create', '--name', 'Beside Start', '--dojo-key', 'sk_sandbox_besidestart9876', '--dojo-url', 'http://127.0.0.1:4010', '--json')
  t.equal(created.code, 0, created.err)
  const merchant = JSON.parse(created.out)
  t.match(merchant, { id: /^mer_/, name: 'Beside Start', dojoKeyLast4: '9876' })
  const listed = await runAdmin({ DATABASE_URL: env.DATABASE_URL!, PAYLINKS_DATA_DIR: join(dir, 'missing') }, 'merchant', 'list')
  t.match(listed.out, merchant.id, 'a variable that is set is used; the created merchant is in that database')
  const empty = mkdtempSync(join(tmpdir(), 'paylinks-empty-'))
  t.teardown(() => { rmSync(empty, { recursive: true, force: true }) })
  const none = await runAdmin({ ...unset, PAYLINKS_DATA_DIR: empty }, 'merchant', 'create', '--name', 'x', '--dojo-key', 'sk_sandbox_x0000000', '--dojo-url', 'http://127.0.0.1:4010')
  t.equal(none.code, 1)
  t.match(none.err, /SECRETS_ENCRYPTION_KEYS is required/, 'without pnpm start and without the variables, it names what is missing')
})

t.test('pnpm admin should print only its own output, not pnpm\'s command line', async (t) => {
  const root = fileURLToPath(new URL('../../..', import.meta.url))
  const child = spawn('pnpm', ['admin', '--help'], { cwd: root, env: { ...process.env, PAYLINKS_DATA_DIR: join(tmpdir(), 'paylinks-none') }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const code = await new Promise<number>((resolve) => child.on('close', (c) => { resolve(c ?? 1) }))
  t.equal(code, 0)
  t.match(output, /^usage: pnpm admin <command>\n/, 'the first line is the tool\'s own')
  t.notMatch(output, /\$ pnpm|--filter/)
})
