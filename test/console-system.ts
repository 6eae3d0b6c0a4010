/// <reference lib="dom" />
// The merchant console's browser tests share this: the console server and every service it
// calls as real processes on the local Postgres and NATS, Dojo played by the sandbox, e-mail
// caught by a real SMTP server, and chromium on the built web app (with the console's CSP).
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { createMerchant, createSecretBox, type MerchantTables } from '@paylinks/merchants'
import { freePort, onTeardown, roleUrl, spawnService, startSmtp, systemStreamsEnv, until, type Mailbox, type ServiceProcess, type TestContext } from '@paylinks/test-kit'
import { assertAccessible, launchChromium, preloadAxe, type AssertingContext } from '@paylinks/test-kit/browser'
import { admin } from '../services/console/src/admin-cli.js'

const entry = (service: string): string => fileURLToPath(new URL(`../services/${service}/src/server.ts`, import.meta.url))
export const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS ?? '/work/notes/screenshots'

export interface ConsoleSystem {
  merchantId: string
  /** The console's origin, e.g. http://127.0.0.1:41234 */
  origin: string
  /** link-issuer's origin: the partner API, and the short and reusable links customers open */
  issuerUrl: string
  databaseUrl: string
  mailbox: Mailbox
  browser: Browser
}

/** The console and every service it reaches, each a process, and a merchant wired to the sandbox. */
export async function startConsoleSystem (t: TestContext): Promise<ConsoleSystem> {
  const { url: databaseUrl } = await createMigratedTestDatabase(t)
  const mailbox = await startSmtp(t)
  const keys = randomBytes(32).toString('base64')
  const [sandboxPort, recorderPort, issuerPort, ingestPort, projectorPort, dispatchPort, consolePort] = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(freePort))
  const url = (port: number | undefined): string => `http://127.0.0.1:${port!}`
  const shared = {
    ...systemStreamsEnv(t, 'con'),
    SECRETS_ENCRYPTION_KEYS: keys,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1'
  }
  const db = createDatabase<MerchantTables>({ connectionString: databaseUrl, max: 1 })
  onTeardown(t, () => db.destroy())
  const merchant = await createMerchant(db, createSecretBox([keys]), { name: 'Corner Café', dojoSecretKey: `sk_sandbox_${randomBytes(12).toString('hex')}`, dojoBaseUrl: url(sandboxPort) })

  const roles: Record<string, string> = {
    'event-recorder': DATABASE_ROLES.eventRecorder,
    'link-issuer': DATABASE_ROLES.linkIssuer,
    'webhook-ingest': DATABASE_ROLES.webhookIngest,
    projector: DATABASE_ROLES.projector,
    'webhook-dispatch': DATABASE_ROLES.webhookDispatch,
    console: DATABASE_ROLES.console
  }
  const processes = new Map<string, ServiceProcess>()
  const start = (service: string, port: number | undefined, extra: Record<string, string> = {}): void => {
    processes.set(service, spawnService(t, entry(service), { ...shared, ...(roles[service] === undefined ? {} : { DATABASE_URL: roleUrl(databaseUrl, roles[service]) }), PORT: String(port), ...extra }))
  }
  const ready = async (service: string, port: number | undefined): Promise<void> => {
    await until(async () => await fetch(`${url(port)}/readyz`).then((r) => r.ok, () => false), { what: `${service} ready`, timeoutMs: 60_000, intervalMs: 100 })
      .catch((error: unknown) => { throw new Error(`${service} did not get ready; its output:\n${processes.get(service)?.output().slice(-3000) ?? ''}`, { cause: error }) })
  }
  start('dojo-sandbox', sandboxPort, { PUBLIC_URL: url(sandboxPort), WEBHOOK_RETRY_DELAYS_MS: '200,500,1000' })
  await ready('dojo-sandbox', sandboxPort)
  start('event-recorder', recorderPort)
  start('link-issuer', issuerPort, { PUBLIC_URL: url(issuerPort), SMTP_URL: mailbox.url })
  start('webhook-ingest', ingestPort, { PUBLIC_URL: url(ingestPort), RECONCILE_INTERVAL_MS: '2000', RECONCILE_QUIET_AFTER_MS: '20000' })
  start('projector', projectorPort, { PROJECTION_RECONCILE_MS: '200' })
  start('webhook-dispatch', dispatchPort, {})
  start('console', consolePort, {
    CONSOLE_PUBLIC_URL: url(consolePort),
    LINK_ISSUER_URL: url(issuerPort),
    PROJECTOR_URL: url(projectorPort),
    WEBHOOK_DISPATCH_URL: url(dispatchPort),
    SMTP_URL: mailbox.url
  })
  const all: Array<[string, number | undefined]> = [['event-recorder', recorderPort], ['link-issuer', issuerPort], ['webhook-ingest', ingestPort], ['projector', projectorPort], ['webhook-dispatch', dispatchPort], ['console', consolePort]]
  await Promise.all(all.map(async ([s, p]) => { await ready(s, p) }))
  const browser = await launchChromium(t)
  mkdirSync(SCREENSHOTS, { recursive: true })
  return { merchantId: merchant.id, origin: url(consolePort), issuerUrl: url(issuerPort), databaseUrl, mailbox, browser }
}

/** A message's text with quoted-printable undone (soft breaks and =XX), so URLs read whole. */
export function decodeQuotedPrintable (raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

/** The first console URL of `kind` (invite, reset) in the newest e-mail to `to`. */
export async function mailedUrl (mailbox: Mailbox, to: string, pattern: RegExp, what: string): Promise<string> {
  return await until(() => {
    const messages = mailbox.messages.filter((m) => m.to.includes(to))
    for (const m of messages.reverse()) {
      const found = pattern.exec(decodeQuotedPrintable(m.raw))
      if (found !== null) return found[0]
    }
    return undefined
  }, { what, timeoutMs: 20_000, intervalMs: 100 })
}

export async function newPage (system: ConsoleSystem): Promise<Page> {
  // The console's own CSP stays in force: the app must work under it.
  const context = await system.browser.newContext({ viewport: { width: 1024, height: 768 }, acceptDownloads: true })
  await preloadAxe(context)
  return await context.newPage()
}

export async function screenshot (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true })
}

/** Accept an invite in the browser: choose a name and password, and land signed in on the dashboard. */
export async function acceptInvite (t: AssertingContext, page: Page, inviteUrl: string, name: string, password: string, check = false): Promise<void> {
  await page.goto(inviteUrl)
  await page.getByRole('heading', { name: 'Join the console' }).waitFor()
  await page.getByLabel('Your name').waitFor()
  if (check) await assertAccessible(t, page, 'the invite page')
  await page.getByLabel('Your name').fill(name)
  await page.getByLabel('New password').fill(password)
  await page.getByRole('button', { name: 'Set password and sign in' }).click()
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
}

export async function signIn (page: Page, origin: string, email: string, password: string): Promise<void> {
  await page.goto(`${origin}/console/login`)
  await page.getByLabel('E-mail').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** A request from inside the signed-in page, as a script on it could send one. */
export async function fetchFromPage (page: Page, path: string, init: { method: string, body?: unknown, csrf: 'session' | 'none' }): Promise<{ status: number, code: string | undefined }> {
  return await page.evaluate(async ({ path, init }) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (init.csrf === 'session') headers['x-csrf-token'] = (await (await fetch('/console/api/session')).json() as { csrfToken: string }).csrfToken
    const res = await fetch(path, { method: init.method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) })
    const body = await res.json().catch(() => ({})) as { code?: string }
    return { status: res.status, code: body.code }
  }, { path, init })
}

/** `pnpm admin console owner` in process: the one-time URL it printed for the first owner. */
export async function firstOwnerUrl (system: ConsoleSystem, email: string, name: string): Promise<string> {
  let out = ''
  const code = await admin(['owner', '--merchant', system.merchantId, '--email', email, '--name', name], {
    env: { ...process.env, DATABASE_URL: system.databaseUrl, CONSOLE_PUBLIC_URL: system.origin },
    out: (text: string) => { out += text + '\n' },
    err: (text: string) => { out += text + '\n' }
  })
  const url = /http:\/\/\S+\/console\/invite\/\S+/.exec(out)?.[0]
  if (code !== 0 || url === undefined) throw new Error(`pnpm admin console owner failed (${code}): ${out}`)
  return url
}

export const INVITE_URL = /http:\/\/\S+\/console\/invite\/[A-Za-z0-9_-]+/

/** As the signed-in owner on the staff page: invite `email` with `role`, and see it sent. */
export async function invite (page: Page, email: string, role: 'owner' | 'staff' | 'viewer'): Promise<void> {
  await page.getByLabel('E-mail').fill(email)
  await page.getByLabel('Role', { exact: true }).selectOption(role)
  await page.getByRole('button', { name: 'Send invite' }).click()
  await page.getByText(`Invite e-mailed to ${email}.`).waitFor()
}

/** Someone who exists only as a test's e-mail and password. */
export function person (kind: string): { email: string, password: string } {
  const suffix = randomBytes(3).toString('hex')
  return { email: `${kind}-${suffix}@corner.example`, password: `${kind}-pass-${suffix}` }
}
