// Isolated (its own embedded Postgres and nats-servers): `pnpm soak` for 30 s of load — the whole system on a 3-node JetStream cluster under load
// and chaos (services SIGKILLed, Postgres restarted, NATS nodes SIGKILLed). What it asserts is
// the promise, not a time: the soak exits 0 and reports nothing lost and nothing duplicated.
// Its figures (operations, faults, partner wait, convergence) are printed, never asserted.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { onTeardown } from '@paylinks/test-kit'

const root = join(import.meta.dirname, '..')
// Start-up on a busy 2-core machine takes longer than the load itself.
t.setTimeout(900_000)

t.test('pnpm soak should lose and duplicate nothing acknowledged through load and chaos', async (t) => {
  const duration = process.env.SOAK_DURATION ?? '30s'
  const child = spawn(process.execPath, ['--import=tsx', join(root, 'scripts/soak.ts'), '--duration', duration, '--seed', process.env.SOAK_SEED ?? '13'], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | string>((resolve) => { child.once('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown') }) })
  // SIGTERM: the soak stops what it started (services, nats-servers, Postgres) before it exits.
  onTeardown(t, async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); await exited })
  const code = await exited
  t.comment(output.split('\n').filter((l) => l.startsWith('  ') || l.startsWith('[soak]')).join('\n'))
  t.match(output, /\[soak\] lost 0, duplicated 0/, 'nothing lost, nothing duplicated')
  t.equal(code, 0, `the soak exits 0:\n${output.slice(-4000)}`)
})
