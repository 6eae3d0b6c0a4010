// `pnpm admin console …` (the root admin script hands `console` commands here): the first
// owner of a merchant's console. Reads DATABASE_URL and CONSOLE_PUBLIC_URL; where unset, what
// the last `pnpm start` left in its data directory. Writes only through `io`, so tests run it
// in-process.
import { parseArgs } from 'node:util'
import { Type } from '@sinclair/typebox'
import { createDatabase, DatabaseConfigSchema } from '@paylinks/event-store'
import { loadConfig, withLocalSetup } from '@paylinks/service-kit'
import { createInvite, emailTaken, passwordProblem, setOwnerPassword } from './accounts.js'
import type { ConsoleTables } from './tables.js'

const USAGE = `usage: pnpm admin console owner --merchant <mer_…> --email <address> [--name <name>]
  prints a one-time URL (valid 24 h) where the owner chooses a password and is signed in.
  With CONSOLE_OWNER_PASSWORD set, creates the owner with that password instead (or gives the
  existing account of that e-mail that password): for scripted setups such as pnpm start.
environment: DATABASE_URL, CONSOLE_PUBLIC_URL (default http://127.0.0.1:3006), CONSOLE_OWNER_PASSWORD.`

export interface AdminIo {
  env: Record<string, string | undefined>
  out: (text: string) => void
  err: (text: string) => void
}

const FIRST_OWNER_TTL_MS = 24 * 3_600_000

/** Run `console <argv…>`; the exit code. */
export async function admin (argv: string[], io: AdminIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { merchant: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help === true) { io.out(USAGE); return 0 }
  if (positionals.join(' ') !== 'owner' || values.merchant === undefined || values.email === undefined || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email)) {
    io.err(USAGE)
    return 2
  }
  const env = withLocalSetup(io.env)
  const config = loadConfig(Type.Composite([DatabaseConfigSchema, Type.Object({
    CONSOLE_PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:3006', pattern: '^https?://' }),
    CONSOLE_OWNER_PASSWORD: Type.Optional(Type.String())
  })]), env)
  const db = createDatabase<ConsoleTables>({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'console-admin' })
  try {
    const merchant = await db.selectFrom('merchants').select(['id', 'name']).where('id', '=', values.merchant).executeTakeFirst()
    if (merchant === undefined) { io.err(`no merchant ${values.merchant}`); return 1 }
    const name = values.name ?? values.email.split('@')[0]!
    if (config.CONSOLE_OWNER_PASSWORD !== undefined) {
      const problem = passwordProblem(config.CONSOLE_OWNER_PASSWORD)
      if (problem !== undefined) { io.err(`CONSOLE_OWNER_PASSWORD: ${problem}`); return 2 }
      const user = await setOwnerPassword(db, { merchantId: merchant.id, email: values.email, name, password: config.CONSOLE_OWNER_PASSWORD })
      io.out(values.json === true ? JSON.stringify(user) : `owner ${user.id} (${user.email}) of ${merchant.name} can sign in`)
      return 0
    }
    if (await emailTaken(db, values.email)) { io.err(`${values.email} has an account already: it can sign in, or reset its password`); return 1 }
    const invite = await createInvite(db, { merchantId: merchant.id, email: values.email, name, role: 'owner', ttlMs: FIRST_OWNER_TTL_MS })
    const url = `${config.CONSOLE_PUBLIC_URL.replace(/\/+$/, '')}/console/invite/${invite.token}`
    io.out(values.json === true ? JSON.stringify({ url, expiresAt: invite.expiresAt }) : `${merchant.name}'s first owner ${values.email}: choose a password at\n  ${url}\n(one use, until ${invite.expiresAt})`)
    return 0
  } finally {
    await db.destroy()
  }
}
