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
import { freePort, NATS_SERVER_BIN, onTeardown, until } from '@paylinks/test-kit'

const root = join(import.meta.dirname, '..')
const usersFile = join(root, 'deploy/nats/users.json')

t.test('deploy/nats/users.json should be what the generator makes of the default topology', async (t) => {
  const expected = { topology: defaultNatsTopology, users: natsServiceUsersFromEnv(defaultNatsTopology) }
  t.same(JSON.parse(await readFile(usersFile, 'utf8')), expected, `regenerate it: ${JSON.stringify(expected, null, 2)}`)
})

const NODES = ['nats-1', 'nats-2', 'nats-3']

t.test('docker-compose.yml should run a 3-node NATS cluster and give each service its own NATS user, whose password every node has', async (t) => {
  const compose = parse(await readFile(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>, volumes?: string[], command?: string[] }> }
  const volumes = new Set<string>()
  for (const name of NODES) {
    const nats = compose.services[name]!
    t.same(nats.command, ['-c', '/etc/nats/nats.conf'], `${name} runs the compose configuration`)
    t.equal(nats.environment!.NATS_SERVER_NAME, name)
    t.match(nats.environment!.NATS_ROUTE_PASSWORD, /^\$\{NATS_ROUTE_PASSWORD:\?/, `${name}'s route password is required`)
    t.ok(nats.volumes?.includes('./deploy/nats/nats.conf:/etc/nats/nats.conf:ro'))
    t.ok(nats.volumes?.includes('nats-auth:/etc/nats/auth:ro'), `${name} reads the users nats-auth writes`)
    const data = nats.volumes?.find((v) => v.endsWith(':/data'))
    t.ok(data !== undefined && !volumes.has(data), `${name} keeps its JetStream data in a volume of its own`)
    volumes.add(data!)
    for (const service of NatsServices) t.match(nats.environment![natsPasswordVariable(service)], new RegExp(`^\\$\\{${natsPasswordVariable(service)}:\\?`), `${name} knows ${service}'s password`)
    t.ok(nats.environment![natsPasswordVariable('setup')])
  }
  t.ok(compose.services['nats-auth']!.volumes?.includes(`nats-auth:${compose.services['nats-auth']!.environment!.NATS_AUTH_DIR!}`))
  for (const service of NatsServices) {
    const env = compose.services[service]!.environment!
    const variable = natsPasswordVariable(service)
    t.equal(env.NATS_USER, service, `${service} connects as itself`)
    t.match(env.NATS_PASSWORD, new RegExp(`^\\$\\{${variable}:\\?`), `${service}'s password is required`)
    t.same(env.NATS_URL?.split(','), NODES.map((n) => `nats://${n}:4222`), `${service} knows every node`)
    t.equal(env.NATS_STREAM_REPLICAS, '3', `${service} declares its streams at R3`)
  }
})

t.test('deploy/nats/nats.conf should form a 3-node JetStream cluster on nats-server 2.9, refusing clients without a user and declaring R3 streams', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-compose-nats-'))
  onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  const conf = await readFile(join(root, 'deploy/nats/nats.conf'), 'utf8')
  t.match(conf, /store_dir: "\/data"/)
  await mkdir(join(dir, 'auth'))
  const state = JSON.parse(await readFile(usersFile, 'utf8')) as NatsAuthState
  await writeNatsAuthorization(join(dir, 'auth'), state, [])
  const passwords = Object.fromEntries(state.users.map((u) => [natsPasswordVariable(u.user), `dummy-${u.user}`]))
  // The compose file itself, each node's JetStream directory (a volume there) moved into ours,
  // and the compose ports and route host names moved aside by the flags that override them.
  const nodes = await Promise.all(NODES.map(async (name) => ({ name, port: await freePort(), monitor: await freePort(), cluster: await freePort() })))
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.cluster}`).join(',')
  const outputs: string[] = []
  for (const [i, node] of nodes.entries()) {
    const file = join(dir, `${node.name}.conf`)
    await writeFile(file, conf.replace('store_dir: "/data"', `store_dir: ${JSON.stringify(join(dir, node.name))}`))
    const child = spawn(NATS_SERVER_BIN, ['-c', file, '-a', '127.0.0.1', '-p', String(node.port), '-m', String(node.monitor), '--cluster', `nats://127.0.0.1:${node.cluster}`, '--routes', routes], {
      env: { ...process.env, ...passwords, NATS_SERVER_NAME: node.name, NATS_ROUTE_PASSWORD: 'dummy-route' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    outputs[i] = ''
    child.stderr.on('data', (c: Buffer) => { outputs[i] += c.toString() })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    onTeardown(t, async () => { if (child.exitCode === null) child.kill('SIGKILL'); await exited })
  }
  const listening = async (port: number): Promise<boolean> => await new Promise<boolean>((resolve) => { const s = connectTcp({ host: '127.0.0.1', port }); s.once('connect', () => { s.destroy(); resolve(true) }); s.once('error', () => { resolve(false) }) })
  // Healthy: every node listens, has its two routes and sees a JetStream meta leader.
  await until(async () => {
    for (const n of nodes) {
      if (!(await listening(n.port))) return false
      const routez = await fetch(`http://127.0.0.1:${n.monitor}/routez`).then(async (r) => await r.json() as { num_routes: number }, () => undefined)
      const jsz = await fetch(`http://127.0.0.1:${n.monitor}/jsz`).then(async (r) => await r.json() as { meta_cluster?: { leader?: string } }, () => undefined)
      if (routez?.num_routes !== 2 || (jsz?.meta_cluster?.leader ?? '') === '') return false
    }
    return true
  }, { timeoutMs: 60_000, intervalMs: 200, what: 'the compose cluster formed' }).catch((error: unknown) => {
    // What the nodes said (a port another process took between freePort and the listen, say).
    throw new Error(`${(error as Error).message}; the nodes said:\n${outputs.map((o, i) => `${nodes[i]!.name}: ${o.slice(-1500)}`).join('\n')}`)
  })
  const url = nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',')
  await t.rejects(connect({ servers: `127.0.0.1:${nodes[0]!.port}`, timeout: 3000, reconnect: false }), /authorization/i, 'no user: refused')
  await t.rejects(connect({ servers: `127.0.0.1:${nodes[1]!.port}`, user: 'link-issuer', pass: 'wrong', timeout: 3000, reconnect: false }), /authorization/i, 'a wrong password: refused')
  const issuer = await connectMessaging({ servers: url, name: 'compose-test', user: 'link-issuer', pass: 'dummy-link-issuer', timeoutMs: 5000 })
  onTeardown(t, () => issuer.close())
  const info = await ensureStream(issuer.jsm, { name: 'EVENTS', subjects: ['events.>'], maxAgeMs: 60_000, replicas: 3 })
  t.equal(info.config.name, 'EVENTS', 'link-issuer declares the events stream with the password from the environment')
  t.equal(info.config.num_replicas, 3, 'at R3, across the three nodes')
})
