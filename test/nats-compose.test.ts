import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect as connectTcp } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { connect } from '@nats-io/transport-node'
import {
  connectMessaging, defaultNatsTopology, ensureStream, natsPasswordVariable, NatsServices, natsServiceUsersFromEnv, writeNatsAuthorization, type NatsAuthState
} from '@paylinks/messaging'
import { freePort, NATS_SERVER_BIN, onTeardown } from '@paylinks/test-kit'

const root = join(import.meta.dirname, '..')
const usersFile = join(root, 'deploy/nats/users.json')

t.test('deploy/nats/users.json should be what the generator makes of the default topology', async (t) => {
  const expected = { topology: defaultNatsTopology, users: natsServiceUsersFromEnv(defaultNatsTopology) }
  t.same(JSON.parse(await readFile(usersFile, 'utf8')), expected, `regenerate it: ${JSON.stringify(expected, null, 2)}`)
})

t.test('docker-compose.yml should give each service its own NATS user, whose password the nats service has', async (t) => {
  const compose = parse(await readFile(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string>, volumes?: string[], command?: string[] }> }
  const nats = compose.services.nats!
  t.same(nats.command, ['-c', '/etc/nats/nats.conf'])
  t.ok(nats.volumes?.includes('./deploy/nats/nats.conf:/etc/nats/nats.conf:ro'))
  t.ok(nats.volumes?.includes('nats-auth:/etc/nats/auth:ro'), 'nats reads the users nats-auth writes')
  t.ok(compose.services['nats-auth']!.volumes?.includes(`nats-auth:${compose.services['nats-auth']!.environment!.NATS_AUTH_DIR!}`))
  for (const service of NatsServices) {
    const env = compose.services[service]!.environment!
    const variable = natsPasswordVariable(service)
    t.equal(env.NATS_USER, service, `${service} connects as itself`)
    t.match(env.NATS_PASSWORD, new RegExp(`^\\$\\{${variable}:\\?`), `${service}'s password is required`)
    t.match(nats.environment![variable], new RegExp(`^\\$\\{${variable}:\\?`), `nats knows ${variable}`)
  }
  t.ok(nats.environment![natsPasswordVariable('setup')])
})

t.test('deploy/nats/nats.conf should run on nats-server 2.9, refusing clients without a user', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-compose-nats-'))
  onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  // The compose file itself, its JetStream directory (a volume there) moved into ours.
  const conf = await readFile(join(root, 'deploy/nats/nats.conf'), 'utf8')
  t.match(conf, /store_dir: "\/data"/)
  await writeFile(join(dir, 'nats.conf'), conf.replace('store_dir: "/data"', `store_dir: ${JSON.stringify(join(dir, 'js'))}`))
  await mkdir(join(dir, 'auth'))
  const state = JSON.parse(await readFile(usersFile, 'utf8')) as NatsAuthState
  await writeNatsAuthorization(join(dir, 'auth'), state, [])
  const passwords = Object.fromEntries(state.users.map((u) => [natsPasswordVariable(u.user), `dummy-${u.user}`]))
  // The compose ports, moved aside by the flags that override them.
  const port = await freePort()
  const child = spawn(NATS_SERVER_BIN, ['-c', join(dir, 'nats.conf'), '-a', '127.0.0.1', '-p', String(port), '-m', String(await freePort())], {
    env: { ...process.env, ...passwords }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  onTeardown(t, async () => { if (child.exitCode === null) child.kill('SIGKILL'); await exited })
  for (let i = 0; !(await new Promise<boolean>((resolve) => { const s = connectTcp({ host: '127.0.0.1', port }); s.once('connect', () => { s.destroy(); resolve(true) }); s.once('error', () => { resolve(false) }) })); i++) {
    if (child.exitCode !== null || i > 200) throw new Error(`nats-server did not start with deploy/nats/nats.conf:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const url = `nats://127.0.0.1:${port}`
  await t.rejects(connect({ servers: url, timeout: 3000, reconnect: false }), /authorization/i, 'no user: refused')
  await t.rejects(connect({ servers: url, user: 'link-issuer', pass: 'wrong', timeout: 3000, reconnect: false }), /authorization/i, 'a wrong password: refused')
  const issuer = await connectMessaging({ servers: url, name: 'compose-test', user: 'link-issuer', pass: 'dummy-link-issuer', timeoutMs: 3000 })
  onTeardown(t, () => issuer.close())
  const info = await ensureStream(issuer.jsm, { name: 'EVENTS', subjects: ['events.>'], maxAgeMs: 60_000 })
  t.equal(info.config.name, 'EVENTS', 'link-issuer declares the events stream with the password from the environment')
})
