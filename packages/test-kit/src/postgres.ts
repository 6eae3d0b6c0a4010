import pg from 'pg'
import { onTeardown, uniqueSuffix, type TestContext } from './context.js'

// Tests run against the machine's Postgres (trust auth, as in CI); TEST_DATABASE_URL overrides.
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestDatabase {
  name: string
  url: string
}

/**
 * The same connection string logging in as `role` (the password dropped, or `password`): tests
 * connect each service with its own role, as deployments do, the way trust auth allows locally.
 */
export function roleUrl (databaseUrl: string, role: string, password?: string): string {
  const url = new URL(databaseUrl)
  url.username = encodeURIComponent(role)
  url.password = password === undefined ? '' : encodeURIComponent(password)
  return url.toString()
}

/**
 * A database of its own for one test file: created empty, handed to `prepare` (migrate it),
 * dropped WITH (FORCE) at teardown so a leftover connection cannot keep it alive.
 */
export async function createTestDatabase (t: TestContext, options: { prepare?: (url: string) => Promise<void> } = {}): Promise<TestDatabase> {
  const name = `t_${uniqueSuffix()}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  onTeardown(t, async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await client.connect()
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    } finally {
      await client.end()
    }
  })
  await options.prepare?.(url.toString())
  return { name, url: url.toString() }
}
