// What `pnpm start` leaves in its data directory for the tools run beside it, so that
// `pnpm admin …` after `pnpm start` reaches the same Postgres and NATS with the same secrets key
// without any variable set. A variable that is set always wins.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The development data directory: `PAYLINKS_DATA_DIR`, or `.data` at the repository's root. */
export function localDataDir (env: Record<string, string | undefined> = process.env): string {
  const given = env.PAYLINKS_DATA_DIR
  return given !== undefined && given !== '' ? given : fileURLToPath(new URL('../../../.data', import.meta.url))
}

/** Where the running setup is, as `pnpm start` found or started it. */
export interface LocalSetup {
  /** The database owner's URL (migrations and admin tasks). */
  DATABASE_URL: string
  /** The NATS the services use (`pnpm start`'s own authenticated nats-server, usually). */
  NATS_URL: string
  /** The NATS user admin tasks publish as; its password is in nats-auth/passwords.json. */
  NATS_USER?: string
}

const SETUP_FILE = 'setup.json'

/** Record the setup for the tools (0600: the database URL may carry a password). */
export function writeLocalSetup (dir: string, setup: LocalSetup): void {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, SETUP_FILE)
  writeFileSync(file, JSON.stringify(setup, null, 2) + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
}

function readJson (file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'))
    return typeof value === 'object' && value !== null ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * `env` with what the data directory knows filled in where a variable is unset: DATABASE_URL,
 * NATS_URL and NATS_USER/NATS_PASSWORD from the last `pnpm start`, SECRETS_ENCRYPTION_KEYS from
 * `secrets.key`. Without a data directory it is `env` unchanged.
 */
export function withLocalSetup (env: Record<string, string | undefined> = process.env, dir = localDataDir(env)): Record<string, string | undefined> {
  const unset = (name: string): boolean => env[name] === undefined || env[name] === ''
  const filled: Record<string, string | undefined> = { ...env }
  const setup = readJson(join(dir, SETUP_FILE))
  for (const name of ['DATABASE_URL', 'NATS_URL'] as const) {
    if (unset(name) && typeof setup?.[name] === 'string') filled[name] = setup[name]
  }
  if (unset('NATS_USER') && typeof setup?.NATS_USER === 'string') {
    const password = readJson(join(dir, 'nats-auth', 'passwords.json'))?.[setup.NATS_USER]
    if (typeof password === 'string') {
      filled.NATS_USER = setup.NATS_USER
      filled.NATS_PASSWORD = password
    }
  }
  const keyFile = join(dir, 'secrets.key')
  if (unset('SECRETS_ENCRYPTION_KEYS') && existsSync(keyFile)) filled.SECRETS_ENCRYPTION_KEYS = readFileSync(keyFile, 'utf8').trim()
  return filled
}
