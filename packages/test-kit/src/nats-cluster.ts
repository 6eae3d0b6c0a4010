import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { onTeardown, type TestContext } from './context.js'
import { NATS_SERVER_BIN, type Authorization } from './nats-server.js'
import { freePort } from './process.js'
import { until } from './until.js'

export interface NatsClusterNode {
  /** `server_name`, e.g. `n1`: how JetStream names a stream's leader and replicas. */
  name: string
  /** `nats://127.0.0.1:<port>` for clients. */
  url: string
  port: number
  /** The route port the other nodes connect to. */
  clusterPort: number
  /** The monitoring port (loopback), `/jsz`, `/healthz`, `/routez`. */
  monitorPort: number
  /** The running process's pid, or undefined while the node is down. */
  pid: () => number | undefined
  running: () => boolean
  /** What this node logged since it was (re)started. */
  output: () => string
}

export interface TestNatsCluster {
  nodes: NatsClusterNode[]
  /** Every node's client URL, comma-separated: NATS_URL for a service. */
  servers: string
  /** The node leading the JetStream meta group (stream and consumer placement). */
  metaLeader: () => Promise<string | undefined>
  /** The node leading a stream's replicas (every publish goes through it), as the cluster reports it. */
  streamLeader: (stream: string) => Promise<string | undefined>
  /** Kill a node (SIGKILL by default: a crash, nothing flushed) and wait for it to be gone. */
  kill: (name: string, signal?: NodeJS.Signals) => Promise<void>
  /** Start a stopped node again on the same ports and data; resolves once it is healthy in the cluster. */
  restart: (name: string) => Promise<void>
  /** SIGHUP every running node: they read their configuration (and its authorization include) again. */
  reload: () => Promise<void>
  /** Resolves once every running node sees the meta leader, its routes and a current JetStream. */
  healthy: (timeoutMs?: number) => Promise<void>
}

export interface NatsClusterOptions {
  /** Cluster size. Default 3 (R3 streams need three). */
  nodes?: number
  /** Client authorization, as for `startNatsServer` (none: no authentication). */
  authorization?: Authorization
  /** Where to keep the configuration and JetStream data. Default: a temp dir removed at teardown. */
  dir?: string
}

interface Jsz {
  meta_cluster?: { leader?: string, cluster_size?: number }
  account_details?: Array<{ stream_detail?: Array<{ name: string, cluster?: { leader?: string } }> }>
}

/**
 * A JetStream cluster of `nodes` nats-server processes on loopback, each with its own
 * server_name, JetStream directory and free ports, routes between them authenticated with a
 * generated route user. Resolves once a meta leader is elected and every node is healthy.
 * Every process is killed and the directory removed at teardown.
 */
export async function startNatsCluster (t: TestContext, options: NatsClusterOptions = {}): Promise<TestNatsCluster> {
  const size = options.nodes ?? 3
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'paylinks-nats-cluster-'))
  if (options.dir === undefined) onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const routePassword = randomBytes(18).toString('base64url')
  const clusterName = `paylinks-${randomBytes(3).toString('hex')}`
  const specs: Array<{ name: string, port: number, clusterPort: number, monitorPort: number }> = []
  for (let i = 1; i <= size; i++) specs.push({ name: `n${i}`, port: await freePort(), clusterPort: await freePort(), monitorPort: await freePort() })

  const children = new Map<string, { child: ChildProcess, exited: Promise<void>, output: string }>()
  onTeardown(t, async () => {
    for (const c of children.values()) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
    await Promise.all([...children.values()].map(async (c) => { await c.exited }))
  })

  const configFile = (name: string): string => join(dir, `${name}.conf`)
  for (const spec of specs) {
    const routes = specs.filter((s) => s !== spec).map((s) => `nats-route://route:${routePassword}@127.0.0.1:${s.clusterPort}`)
    const authorization = options.authorization ?? ''
    await writeFile(configFile(spec.name), [
      `server_name: ${spec.name}`,
      'host: 127.0.0.1',
      `port: ${spec.port}`,
      `http: "127.0.0.1:${spec.monitorPort}"`,
      `pid_file: ${JSON.stringify(join(dir, `${spec.name}.pid`))}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, spec.name))}, max_memory_store: 64MB, max_file_store: 512MB }`,
      'cluster {',
      `  name: ${clusterName}`,
      '  host: 127.0.0.1',
      `  port: ${spec.clusterPort}`,
      // Routes authenticate too: a process that is not a node cannot join and read every stream.
      `  authorization { user: route, password: ${JSON.stringify(routePassword)}, timeout: 2 }`,
      `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
      '}',
      // nats-server resolves an include against the including file's directory, never as absolute.
      typeof authorization === 'string' ? authorization : `include ${JSON.stringify(relative(dir, authorization.include))}`,
      ''
    ].join('\n'), { mode: 0o600 })
  }

  function launch (name: string): void {
    const child = spawn(NATS_SERVER_BIN, ['-c', configFile(name)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const entry = { child, output: '', exited: new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) }) }
    child.stdout?.on('data', (chunk: Buffer) => { entry.output += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { entry.output += chunk.toString() })
    children.set(name, entry)
  }
  const isRunning = (name: string): boolean => {
    const c = children.get(name)
    return c !== undefined && c.child.exitCode === null && c.child.signalCode === null
  }
  const spec = (name: string): typeof specs[number] => {
    const s = specs.find((x) => x.name === name)
    if (s === undefined) throw new Error(`no node ${name} in this cluster (${specs.map((x) => x.name).join(', ')})`)
    return s
  }

  async function monitor<T> (name: string, path: string): Promise<T | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${spec(name).monitorPort}${path}`, { signal: AbortSignal.timeout(2000) })
      return res.ok ? await res.json() as T : undefined
    } catch {
      return undefined
    }
  }
  const running = (): string[] => specs.map((s) => s.name).filter(isRunning)

  async function nodeHealthy (name: string): Promise<boolean> {
    if (!isRunning(name)) throw new Error(`nats-server ${name} exited:\n${children.get(name)?.output.slice(-3000) ?? ''}`)
    const routes = await monitor<{ num_routes: number }>(name, '/routez')
    const others = running().length - 1
    if (routes === undefined || routes.num_routes < others) return false
    const jsz = await monitor<Jsz>(name, '/jsz')
    if (jsz?.meta_cluster?.leader === undefined || jsz.meta_cluster.leader === '') return false
    // 200 once JetStream on this node is current with the meta group and its streams.
    return await fetch(`http://127.0.0.1:${spec(name).monitorPort}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)
  }

  const healthy = async (timeoutMs = 30_000): Promise<void> => {
    await until(async () => (await Promise.all(running().map(nodeHealthy))).every(Boolean), { timeoutMs, intervalMs: 100, what: 'the NATS cluster healthy (routes, meta leader, JetStream current)' })
  }

  for (const s of specs) launch(s.name)
  await healthy(60_000)

  const leaderFrom = async (pick: (jsz: Jsz) => string | undefined): Promise<string | undefined> => {
    for (const name of running()) {
      const jsz = await monitor<Jsz>(name, '/jsz?accounts=true&streams=true')
      const leader = jsz === undefined ? undefined : pick(jsz)
      if (leader !== undefined && leader !== '') return leader
    }
    return undefined
  }

  return {
    nodes: specs.map((s) => ({
      ...s,
      url: `nats://127.0.0.1:${s.port}`,
      pid: () => isRunning(s.name) ? children.get(s.name)!.child.pid : undefined,
      running: () => isRunning(s.name),
      output: () => children.get(s.name)?.output ?? ''
    })),
    servers: specs.map((s) => `nats://127.0.0.1:${s.port}`).join(','),
    metaLeader: async () => await leaderFrom((jsz) => jsz.meta_cluster?.leader),
    // Only the stream's leader fills in its own stream details' leader reliably; any node that
    // answers with one is as good as asking JetStream's API, and needs no credentials.
    streamLeader: async (stream) => await leaderFrom((jsz) => jsz.account_details?.flatMap((a) => a.stream_detail ?? []).find((d) => d.name === stream)?.cluster?.leader),
    kill: async (name, signal = 'SIGKILL') => {
      spec(name)
      const c = children.get(name)
      if (c === undefined || !isRunning(name)) return
      c.child.kill(signal)
      await c.exited
    },
    restart: async (name) => {
      spec(name)
      if (isRunning(name)) throw new Error(`nats-server ${name} is running; kill it first`)
      launch(name)
      await healthy(60_000)
    },
    reload: async () => {
      for (const name of running()) children.get(name)!.child.kill('SIGHUP')
    },
    healthy
  }
}
