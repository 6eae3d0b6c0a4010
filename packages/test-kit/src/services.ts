import { fileURLToPath } from 'node:url'
import type { TestContext } from './context.js'
import { freePort, spawnService, type ServiceProcess } from './process.js'
import { roleUrl } from './postgres.js'
import { until } from './until.js'

// Started as processes by path: test-kit is a package and imports no service.
const SANDBOX_ENTRY = fileURLToPath(new URL('../../../services/dojo-sandbox/src/server.ts', import.meta.url))
const RECORDER_ENTRY = fileURLToPath(new URL('../../../services/event-recorder/src/server.ts', import.meta.url))

export interface SandboxProcess {
  url: string
  process: ServiceProcess
  /** Call one of the emulator's own `/sandbox/...` controls (not Dojo's API). */
  control: (method: string, path: string, body?: unknown) => Promise<{ status: number, body: any }>
  /** Pay an intent with the always-successful test card; throws unless the sandbox says 200. */
  pay: (paymentIntentId: string) => Promise<{ status: number, body: any }>
  /** Set up a merchant's sandbox account (its trading name, on the checkout page); throws unless 200. */
  account: (secretKey: string, tradingName: string) => Promise<{ accountId: string, tradingName: string }>
}

/**
 * dojo-sandbox as a child process on a free port, ready when it answers /healthz; killed at
 * teardown. `env` adds to its test defaults (e.g. `WEBHOOK_RETRY_DELAYS_MS`, or
 * `SANDBOX_STATE_DIR` to keep its state across a restart).
 */
export async function startSandbox (t: TestContext, env: Record<string, string> = {}): Promise<SandboxProcess> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const service = spawnService(t, SANDBOX_ENTRY, { PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, LOG_LEVEL: 'warn', ...env })
  // At LOG_LEVEL=warn nothing announces the listen: poll the health route instead.
  await until(async () => {
    if (service.child.exitCode !== null) throw new Error(`dojo-sandbox exited: ${service.output().slice(-2000)}`)
    return await fetch(`${url}/healthz`).then((r) => r.ok, () => false)
  }, { timeoutMs: 30_000, intervalMs: 100, what: 'dojo-sandbox started' })
  const control = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const response = await fetch(`${url}/sandbox${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
  }
  return {
    url,
    process: service,
    control,
    pay: async (id) => {
      const paid = await control('POST', `/payment-intents/${id}/pay`, { cardNumber: '5200000000001005', expiry: '12/29', cvv: '020', cardName: 'Test' })
      if (paid.status !== 200) throw new Error(`paying ${id} failed: ${paid.status} ${JSON.stringify(paid.body)}`)
      return paid
    },
    account: async (secretKey, tradingName) => {
      const made = await control('POST', '/accounts', { secretKey, tradingName })
      if (made.status !== 200) throw new Error(`setting up the sandbox account failed: ${made.status} ${JSON.stringify(made.body)}`)
      return made.body
    }
  }
}

/**
 * event-recorder as a process on the database and events stream named in `env` (its
 * DATABASE_URL, NATS_*, EVENTS_* and RECORDER_* variables), ready once it records; killed at
 * teardown.
 */
export async function startRecorder (t: TestContext, env: Record<string, string>): Promise<ServiceProcess> {
  const own = Object.fromEntries(Object.entries(env).filter(([k]) => /^(DATABASE_URL|NATS_|EVENTS_|RECORDER_)/.test(k)))
  const recorder = spawnService(t, RECORDER_ENTRY, {
    RECORDER_STANDBY_POLL_MS: '50',
    RECORDER_RETRY_DELAY_MS: '50',
    ...own,
    // The recorder logs in as its own role (migration 0012), whoever's URL the test handed over.
    ...(env.DATABASE_URL === undefined ? {} : { DATABASE_URL: roleUrl(env.DATABASE_URL, 'paylinks_event_recorder') }),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    PORT: '0'
  })
  await recorder.waitFor(/"msg":"recording"/)
  return recorder
}
