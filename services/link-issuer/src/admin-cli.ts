// The commands of `pnpm admin` (src/admin.ts runs them): merchants, API keys and order systems'
// NATS credentials. Reads DATABASE_URL, SECRETS_ENCRYPTION_KEYS and NATS_AUTH_DIR; where they are
// unset, what the last `pnpm start` left in its data directory (withLocalSetup), so it just works
// beside it. `admin(argv, io)` returns the exit code and writes only through `io`, so tests run
// it in-process with an environment of their own.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Type } from '@sinclair/typebox'
import { createDatabase } from '@paylinks/event-store'
import {
  activeNatsCredentials, createApiKey, createMerchant, createNatsCredential, createSecretBox, encryptionKeys, listApiKeys, listMerchants, listNatsCredentials, setMerchantRenewal,
  newNatsCredentialUser, revokeApiKey, revokeNatsCredential, SecretsConfigSchema, type MerchantTables
} from '@paylinks/merchants'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { defaultNatsTopology, EventsStreamConfigSchema, hashNatsPassword, inboxPrefixFor, newNatsPassword, readNatsAuthState, reloadNatsServer, writeNatsAuthorization } from '@paylinks/messaging'
import { loadConfig, localDataDir, withLocalSetup } from '@paylinks/service-kit'
import type { Kysely } from 'kysely'

const natsAuthConfigSchema = (env: Record<string, string | undefined>) => Type.Object({
  NATS_AUTH_DIR: Type.String({
    default: join(localDataDir(env), 'nats-auth'),
    description: 'where pnpm start keeps its nats-server\'s users and authorization.conf (rewritten, and the server reloaded, when a credential changes)'
  })
})
import { eraseFromAdmin } from './customers.js'
import { getReminderPolicy, setReminderPolicy } from './repositories/reminders.js'
import type { Db } from './tables.js'

const USAGE = `usage: pnpm admin <command>
  merchant create --name <name> --dojo-key <sk_sandbox_…|sk_prod_…> --dojo-url <url> [--redirect-url <url>] [--link-expiry-hours <1-8760>]
  merchant list
  merchant renewal <on|off> --merchant <mer_…>                 let customers of expired or canceled links ask for a fresh one
  merchant reminders --merchant <mer_…> [--on | --off] [--first-after-hours <n>] [--every-hours <n>] [--max-reminders <1-5>]
                                                               show or change the merchant's reminder e-mails for unpaid links
  key create --merchant <mer_…> [--label <text>]
  key create --analyst [--label <text>]
  key list --merchant <mer_…>  |  key list --analyst
  key revoke <keyId>
  nats-credential create --merchant <mer_…> [--label <text>]   an order system's NATS user: publishes that merchant's orders only
  nats-credential list [--merchant <mer_…>]
  nats-credential revoke <user>
  nats-credential sync                                         rewrite the NATS authorization from the database and reload
  customer erase --merchant <mer_…> (--email <address> | --phone <number> | --customer <cus_…>)
environment: DATABASE_URL, SECRETS_ENCRYPTION_KEYS (comma-separated base64 32-byte keys),
  NATS_AUTH_DIR (default <data>/nats-auth, where pnpm start keeps its nats-server's users);
  customer erase also NATS_URL, NATS_USER, NATS_PASSWORD, EVENTS_SUBJECT_PREFIX (it records customer.erased).
  Unset, they come from the last pnpm start's data directory <data> (PAYLINKS_DATA_DIR, default <repo>/.data).`

/** Where a run of the tool reads its variables and writes its output. */
export interface AdminIo {
  /** The variables as given; what `pnpm start` left fills the unset ones. */
  env: Record<string, string | undefined>
  out: (text: string) => void
  err: (text: string) => void
}

class UsageError extends Error {}

const options = {
  name: { type: 'string' },
  'dojo-key': { type: 'string' },
  'dojo-url': { type: 'string' },
  'redirect-url': { type: 'string' },
  'link-expiry-hours': { type: 'string' },
  // merchant reminders
  on: { type: 'boolean' },
  off: { type: 'boolean' },
  'first-after-hours': { type: 'string' },
  'every-hours': { type: 'string' },
  'max-reminders': { type: 'string' },
  merchant: { type: 'string' },
  label: { type: 'string' },
  analyst: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  // customer erase
  email: { type: 'string' },
  phone: { type: 'string' },
  customer: { type: 'string' }
} as const

function need (value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing --${flag}`)
  return value
}

async function main (argv: string[], io: AdminIo, env: Record<string, string | undefined>): Promise<number> {
  let parsed
  try {
    // A key id is base64url and may begin with '-': after `revoke` it is an operand, never an option.
    const args = argv[1] === 'revoke' && argv[2] !== undefined && argv[2] !== '--' ? [...argv.slice(0, 2), '--', ...argv.slice(2)] : argv
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help === true || positionals.length === 0) {
    io.out(USAGE)
    return values.help === true ? 0 : 2
  }
  const [noun, verb, ...rest] = positionals
  const command = `${noun ?? ''} ${verb ?? ''}`
  const known = ['merchant create', 'merchant list', 'merchant renewal', 'merchant reminders', 'key create', 'key list', 'key revoke', 'customer erase']
  if (noun === 'nats-credential') return await natsCredential(verb ?? '', rest, values, io, env)
  if (!known.includes(command)) throw new UsageError(`unknown command '${positionals.join(' ')}'`)

  const needsSecrets = command === 'merchant create'
  const config = loadConfig(needsSecrets ? Type.Composite([DatabaseConfigSchema, SecretsConfigSchema]) : DatabaseConfigSchema, env)
  const db = createDatabase<MerchantTables>({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'link-issuer-admin' })
  const out = (human: string, data: unknown): void => { io.out(values.json === true ? JSON.stringify(data) : human) }
  try {
    switch (command) {
      case 'merchant create': {
        const hours = values['link-expiry-hours']
        const linkExpiryHours = hours === undefined ? undefined : Number(hours)
        if (linkExpiryHours !== undefined && (!Number.isInteger(linkExpiryHours) || linkExpiryHours < 1 || linkExpiryHours > 8760)) throw new UsageError('--link-expiry-hours must be an integer from 1 to 8760')
        const box = createSecretBox(encryptionKeys(config as { SECRETS_ENCRYPTION_KEYS: string }))
        const merchant = await createMerchant(db, box, {
          name: need(values.name, 'name'),
          dojoSecretKey: need(values['dojo-key'], 'dojo-key'),
          dojoBaseUrl: need(values['dojo-url'], 'dojo-url'),
          ...(values['redirect-url'] === undefined ? {} : { defaultRedirectUrl: values['redirect-url'] }),
          ...(linkExpiryHours === undefined ? {} : { linkExpiryHours })
        })
        out(`merchant ${merchant.id} created (${merchant.name}, Dojo ${merchant.dojoEnvironment}, key …${merchant.dojoKeyLast4})`, merchant)
        return 0
      }
      case 'merchant list': {
        const merchants = await listMerchants(db)
        out(merchants.map((m) => `${m.id}\t${m.name}\t${m.dojoEnvironment}\t…${m.dojoKeyLast4}\t${m.dojoBaseUrl}`).join('\n') || '(no merchants)', merchants)
        return 0
      }
      case 'merchant renewal': {
        const [setting] = rest
        if (setting !== 'on' && setting !== 'off') throw new UsageError('merchant renewal takes on or off')
        const merchant = await setMerchantRenewal(db, need(values.merchant, 'merchant'), setting === 'on')
        out(`merchant ${merchant.id}: renewal of expired or canceled links ${merchant.allowRenewal ? 'allowed' : 'not allowed'}`, merchant)
        return 0
      }
      case 'merchant reminders': {
        const merchantId = need(values.merchant, 'merchant')
        if (values.on === true && values.off === true) throw new UsageError('give --on or --off, not both')
        const integer = (flag: 'first-after-hours' | 'every-hours' | 'max-reminders', min: number, max: number): number | undefined => {
          const text = values[flag]
          if (text === undefined) return undefined
          const n = Number(text)
          if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be an integer from ${min} to ${max}`)
          return n
        }
        const firstHours = integer('first-after-hours', 1, 8760)
        const everyHours = integer('every-hours', 1, 8760)
        const maxReminders = integer('max-reminders', 1, 5)
        if ((await db.selectFrom('merchants').select('id').where('id', '=', merchantId).executeTakeFirst()) === undefined) throw new UsageError(`no merchant ${merchantId}`)
        const linkDb = db as unknown as Db
        let policy = await getReminderPolicy(linkDb, merchantId)
        const changed = values.on === true || values.off === true || firstHours !== undefined || everyHours !== undefined || maxReminders !== undefined
        if (changed) {
          policy = await setReminderPolicy(linkDb, merchantId, {
            enabled: values.on === true ? true : values.off === true ? false : policy.enabled,
            firstAfterSeconds: firstHours === undefined ? policy.firstAfterSeconds : firstHours * 3600,
            everySeconds: everyHours === undefined ? policy.everySeconds : everyHours * 3600,
            maxReminders: maxReminders ?? policy.maxReminders
          })
        }
        out(policy.enabled
          ? `reminders on for ${merchantId}: first ${policy.firstAfterSeconds / 3600} h after the link's e-mail, then every ${policy.everySeconds / 3600} h, at most ${policy.maxReminders}`
          : `reminders off for ${merchantId}`, policy)
        return 0
      }
      case 'key create': {
        const label = values.label ?? ''
        if (values.analyst === true && values.merchant !== undefined) throw new UsageError('give --merchant or --analyst, not both')
        const created = values.analyst === true
          ? await createApiKey(db, { scope: 'analyst', label })
          : await createApiKey(db, { merchantId: need(values.merchant, 'merchant (or --analyst)'), label })
        out(`${created.key}\n(key id ${created.info.keyId}, ${created.info.scope}${created.info.merchantId === null ? '' : ` for ${created.info.merchantId}`}; shown once, store it now)`, { key: created.key, ...created.info })
        return 0
      }
      case 'key list': {
        if (values.analyst !== true && values.merchant === undefined) throw new UsageError('give --merchant <mer_…> or --analyst')
        const keys = await listApiKeys(db, values.analyst === true ? null : values.merchant!)
        out(keys.map((k) => `${k.keyId}\t${k.scope}\t${k.label}\tcreated ${k.createdAt}\t${k.revokedAt === null ? 'active' : `revoked ${k.revokedAt}`}`).join('\n') || '(no keys)', keys)
        return 0
      }
      case 'customer erase': {
        const merchantId = need(values.merchant, 'merchant')
        const given = [values.email === undefined ? undefined : { email: values.email }, values.phone === undefined ? undefined : { phone: values.phone }, values.customer === undefined ? undefined : { customerId: values.customer }].filter((x) => x !== undefined)
        if (given.length !== 1) throw new UsageError('give exactly one of --email, --phone or --customer')
        const erasure = await eraseFromAdmin(db, loadConfig(EventsStreamConfigSchema, env), merchantId, given[0]!)
        if (erasure === undefined) {
          io.err(`no such customer of ${merchantId}`)
          return 1
        }
        out(`erased ${erasure.customerIds.join(', ')} (${erasure.links} links)`, { ...erasure, erasedAt: erasure.erasedAt.toISOString() })
        return 0
      }
      default: {
        const keyId = rest[0]
        if (keyId === undefined) throw new UsageError('missing <keyId>')
        if (!(await revokeApiKey(db, keyId))) {
          io.err(`no active key ${keyId}`)
          return 1
        }
        out(`key ${keyId} revoked`, { keyId, revoked: true })
        return 0
      }
    }
  } finally {
    await db.destroy()
  }
}

/**
 * Rewrite the authorization of the nats-server `pnpm start` runs (state in NATS_AUTH_DIR) from
 * the active credentials, and have it reload. Without that state, NATS is run elsewhere.
 */
async function syncNats (db: Kysely<MerchantTables>, dir: string): Promise<string> {
  const state = await readNatsAuthState(dir)
  if (state === undefined) return `no NATS authorization in ${dir}: regenerate your nats-server's configuration and reload it (pnpm admin nats-credential sync with NATS_AUTH_DIR)`
  const file = await writeNatsAuthorization(dir, state, await activeNatsCredentials(db))
  const pid = await reloadNatsServer(state)
  return pid === undefined ? `wrote ${file} (no nats-server running on it; it applies at the next start)` : `wrote ${file}; nats-server ${pid} reloaded`
}

async function natsCredential (verb: string, rest: string[], values: { merchant?: string | undefined, label?: string | undefined, json?: boolean | undefined }, io: AdminIo, env: Record<string, string | undefined>): Promise<number> {
  if (!['create', 'list', 'revoke', 'sync'].includes(verb)) throw new UsageError(`unknown command 'nats-credential ${verb}'`)
  const config = loadConfig(Type.Composite([DatabaseConfigSchema, natsAuthConfigSchema(env)]), env)
  const db = createDatabase<MerchantTables>({ connectionString: config.DATABASE_URL, max: 1, applicationName: 'link-issuer-admin' })
  const out = (human: string, data: unknown): void => { io.out(values.json === true ? JSON.stringify(data) : human) }
  try {
    switch (verb) {
      case 'create': {
        const merchantId = need(values.merchant, 'merchant')
        const user = newNatsCredentialUser(merchantId)
        const password = newNatsPassword()
        const info = await createNatsCredential(db, { user, merchantId, passwordHash: await hashNatsPassword(password), label: values.label ?? '' })
        const synced = await syncNats(db, config.NATS_AUTH_DIR)
        const topology = (await readNatsAuthState(config.NATS_AUTH_DIR))?.topology ?? defaultNatsTopology
        const subject = `${topology.ordersSubjectPrefix}.v1.${merchantId}`
        out([
          `user:     ${user}`,
          `password: ${password}`,
          `(shown once, store it now) publishes only ${subject}; connect with inboxPrefix ${inboxPrefixFor(user)} to receive JetStream acks`,
          synced
        ].join('\n'), { ...info, password, subject, inboxPrefix: inboxPrefixFor(user), nats: synced })
        return 0
      }
      case 'list': {
        const credentials = await listNatsCredentials(db, values.merchant)
        out(credentials.map((c) => `${c.user}\t${c.merchantId}\t${c.label}\tcreated ${c.createdAt}\t${c.revokedAt === null ? 'active' : `revoked ${c.revokedAt}`}`).join('\n') || '(no NATS credentials)', credentials)
        return 0
      }
      case 'revoke': {
        const user = rest[0]
        if (user === undefined) throw new UsageError('missing <user>')
        if (!(await revokeNatsCredential(db, user))) {
          io.err(`no active NATS credential ${user}`)
          return 1
        }
        const synced = await syncNats(db, config.NATS_AUTH_DIR)
        out(`NATS credential ${user} revoked\n${synced}`, { user, revoked: true, nats: synced })
        return 0
      }
      default: {
        const synced = await syncNats(db, config.NATS_AUTH_DIR)
        out(synced, { nats: synced })
        return 0
      }
    }
  } finally {
    await db.destroy()
  }
}

/** Run one `pnpm admin` command line; resolves to its exit code (0 done, 1 failed, 2 bad usage). */
export async function admin (argv: string[], io: AdminIo = { env: process.env, out: console.log, err: console.error }): Promise<number> {
  try {
    return await main(argv, io, withLocalSetup(io.env))
  } catch (error) {
    const e = error as Error & { code?: string, problems?: string[] }
    if (error instanceof UsageError) {
      io.err(`error: ${e.message}\n\n${USAGE}`)
      return 2
    }
    io.err(e.code === '23503' ? 'error: no such merchant' : `error: ${e.message}`)
    return 1
  }
}
