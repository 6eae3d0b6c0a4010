/// <reference lib="dom" />
// The newcomer contract as a test: `pnpm start` on a fresh database, a data directory of its
// own and a NATS port where nothing runs (so it starts its own authenticated nats-server), the
// sample link's e-mail seen in the dev mailbox (its JSON API and its page), the link paid in
// chromium with a test card, seen `paid` through the printed API key, every page on the way
// passing axe's WCAG 2 A/AA rules, `pnpm admin` beside it with nothing set, then Ctrl-C: every
// process it started is gone. Then `pnpm start` again on the same setup: a link issued before
// the restart is paid (the sandbox kept its state in the data directory).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createTestDatabase, freePort, runCommand, until } from '@paylinks/test-kit'
import { assertAccessible, launchChromium, payAtCheckout } from '@paylinks/test-kit/browser'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Every process below `pid` (children, their children, …), from /proc. */
function descendants (pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      // Field 4 of /proc/<pid>/stat is the parent; the command (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)])
    } catch { /* gone meanwhile */ }
  }
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) { found.push(child); queue.push(child) }
  }
  return found
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    // A zombie is dead, only not yet reaped.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

t.test('pnpm start should run the whole system from nothing, its sample link should be e-mailed and payable, Ctrl-C should stop everything it started, and a link from before a restart should be payable after it', async (t) => {
  const database = await createTestDatabase(t)
  const dataDir = mkdtempSync(join(tmpdir(), 'paylinks-start-'))
  const [nats, authNats, recorder, issuer, ingest, projector, sandbox, mailbox, consolePort] = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9].map(freePort))
  const env: Record<string, string> = {
    PAYLINKS_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    NATS_URL: `nats://127.0.0.1:${nats!}`,
    NATS_AUTH_PORT: String(authNats),
    RECORDER_PORT: String(recorder),
    LINK_ISSUER_PORT: String(issuer),
    WEBHOOK_INGEST_PORT: String(ingest),
    PROJECTOR_PORT: String(projector),
    SANDBOX_PORT: String(sandbox),
    MAILBOX_PORT: String(mailbox),
    CONSOLE_PORT: String(consolePort),
    LOG_LEVEL: 'warn',
    SECRETS_ENCRYPTION_KEYS: '',
    FORCE_COLOR: '0'
  }
  const runs: ChildProcess[] = []
  let started: number[] = []
  t.teardown(async () => {
    // Whatever the test's outcome, nothing it started outlives it.
    for (const run of runs) if (run.exitCode === null) { try { process.kill(-run.pid!, 'SIGKILL') } catch {} }
    for (const pid of started) { try { process.kill(pid, 'SIGKILL') } catch {} }
    rmSync(dataDir, { recursive: true, force: true })
  })
  /** `pnpm start` in its own process group, as a terminal's foreground job is: Ctrl-C signals the whole group. */
  const pnpmStart = async (): Promise<{ start: ChildProcess, output: () => string, exited: Promise<string> }> => {
    const start = spawn('pnpm', ['start'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    runs.push(start)
    let output = ''
    start.stdout.on('data', (c: Buffer) => { output += c.toString() })
    start.stderr.on('data', (c: Buffer) => { output += c.toString() })
    // 'close', not 'exit': pnpm may die of the Ctrl-C before pnpm start (its child, writing to the
    // same pipes) has printed that it shuts down; 'close' waits for every writer to let go.
    const exited = new Promise<string>((resolve) => start.on('close', (code, signal) => { resolve(code === null ? String(signal) : `exit ${code}`) }))
    await until(() => output.includes('Ctrl-C stops everything.') || start.exitCode !== null, { what: 'the start banner', timeoutMs: 180_000, intervalMs: 200 })
    t.equal(start.exitCode, null, `pnpm start is running:\n${output}`)
    return { start, output: () => output, exited }
  }
  /** Ctrl-C: pnpm start exits 0 and every process below it is gone. */
  const ctrlC = async (run: { start: ChildProcess, output: () => string, exited: Promise<string> }): Promise<void> => {
    started = descendants(run.start.pid!)
    process.kill(-run.start.pid!, 'SIGINT')
    // pnpm start itself exits 0 once it has stopped everything; pnpm, its parent in the same
    // process group, exits with that code, or (when its own SIGINT wins) as a shell's job does on
    // Ctrl-C, by the signal. Either way what it printed says it shut down, never an error.
    const how = await run.exited
    t.ok(how === 'exit 0' || how === 'SIGINT', `pnpm start stops on Ctrl-C (${how})`)
    t.match(run.output(), /shutting down/, 'it says it shuts down')
    await until(() => started.every((pid) => !alive(pid)), { what: 'every process pnpm start started to be gone', timeoutMs: 30_000, intervalMs: 200 })
    t.same(started.filter(alive), [], 'no service or nats-server is left running')
  }
  const paidThrough = async (apiKey: string, intentId: string | undefined): Promise<{ id: string, status: string }> => await until(async () => {
    const res = await fetch(`http://127.0.0.1:${issuer!}/v1/payment-links?limit=50`, { headers: { authorization: `Bearer ${apiKey}` } })
    const body = await res.json() as { data?: Array<{ id: string, status: string, paymentIntentId: string | null }> }
    return body.data?.find((l) => l.paymentIntentId === intentId && l.status === 'paid')
  }, { what: 'the link paid, through the partner API', timeoutMs: 60_000, intervalMs: 250 })

  const first = await pnpmStart()
  const start = first.start
  const output = first.output()
  const apiKey = /its API key for this run \(shown once\):\s+(plk_\S+)/.exec(output)?.[1]
  const link = /A sample payment link[^\n]*:\s+(http\S+)/.exec(output)?.[1]
  t.ok(apiKey, 'the banner prints an API key')
  t.ok(link, 'the banner prints a sample link')
  t.match(output, 'starting ', 'it started its own nats-server where none ran')
  t.match(output, `127.0.0.1:${nats!}`)
  started = descendants(start.pid!)
  t.ok(started.length >= 6, `pnpm start runs the services and nats-server as processes (${started.length} below it)`)

  const mailboxUrl = `http://127.0.0.1:${mailbox!}/`
  t.match(output, new RegExp(`Development mailbox\\s+${mailboxUrl}`), 'the banner prints the mailbox\'s URL')

  // The console: the banner's demo owner signs in with the printed password.
  const owner = new RegExp(`Merchant console\\s+http://127\\.0\\.0\\.1:${consolePort!}/console/\\s+\\(sign in as (\\S+), password (\\S+),`).exec(output)
  t.ok(owner, 'the banner prints the console with the demo owner\'s e-mail and password')
  const consoleApi = `http://127.0.0.1:${consolePort!}/console/api/session`
  const anonymous = await fetch(consoleApi)
  const { csrfToken } = await anonymous.json() as { csrfToken: string }
  const signIn = await fetch(consoleApi, {
    method: 'POST',
    headers: { cookie: anonymous.headers.get('set-cookie')?.split(';')[0] ?? '', 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
    body: JSON.stringify({ email: owner?.[1], password: owner?.[2] })
  })
  t.match(await signIn.json(), { user: { email: owner?.[1], role: 'owner' }, merchant: { tradingName: 'Demo Coffee Roasters' } }, 'the demo owner signs in to the console')

  // The sample link was e-mailed: it is in the dev mailbox, and its page lists it.
  const mail = await until(async () => {
    const res = await fetch(`${mailboxUrl}api/messages?to=sam.customer@example.com`)
    return ((await res.json()) as { data: Array<{ subject: string, from: string, links: string[] }> }).data[0]
  }, { what: "the sample link's e-mail in the dev mailbox", timeoutMs: 30_000, intervalMs: 250 })
  t.match(mail, { subject: 'Payment request from Demo Coffee Roasters: £12.50', from: 'payments@paylinks.local' })
  t.ok(mail.links.includes(link!), 'the e-mail carries the printed link')
  const browser = await launchChromium(t)
  // bypassCSP: the pages allow no inline script, and axe is one.
  const page = await browser.newPage({ bypassCSP: true })
  await page.goto(mailboxUrl)
  await page.getByRole('row').filter({ hasText: 'sam.customer@example.com' }).getByRole('link', { name: 'Payment request from Demo Coffee Roasters: £12.50' }).click()
  await assertAccessible(t, page, 'the dev mailbox\'s message page')
  t.equal(await page.getByRole('link', { name: link! }).getAttribute('href'), link, 'the link in the e-mail is clickable')

  // The customer opens the e-mailed (short) link: sent on to the checkout page, with the
  // merchant's trading name.
  await page.goto(link!)
  const checkout = page.url()
  t.match(checkout, new RegExp(`^http://127\\.0\\.0\\.1:${sandbox!}/checkout/pi_`), 'the short link opens Dojo\'s (the sandbox\'s) checkout')
  t.ok(await page.getByText('Demo Coffee Roasters').isVisible(), 'the checkout page shows the demo merchant\'s trading name')
  t.ok(await page.getByRole('complementary', { name: 'Sandbox: no real money moves' }).isVisible(), 'and the sandbox banner')
  await payAtCheckout(page)
  await page.getByText('Your payment went through').waitFor({ timeout: 60_000 })
  await assertAccessible(t, page, 'the result page')

  // The partner sees it paid through the printed key.
  const paid = await paidThrough(apiKey!, /\/(pi_[A-Za-z0-9_-]+)/.exec(checkout)?.[1])
  t.equal(paid.status, 'paid')
  const seen = await (await fetch(`http://127.0.0.1:${issuer!}/v1/payment-links/${paid.id}`, { headers: { authorization: `Bearer ${apiKey!}` } })).json() as { opened: { count: number } }
  t.ok(seen.opened.count >= 1, 'and it was opened, through the short link')

  // pnpm admin beside it: nothing set, only its own output.
  const admin = await runCommand('pnpm', ['admin', 'merchant', 'list'], { cwd: root, env: { PAYLINKS_DATA_DIR: dataDir, DATABASE_URL: '', SECRETS_ENCRYPTION_KEYS: '' } })
  t.equal(admin.code, 0, admin.err)
  t.match(admin.out, /^mer_demo0001\t/, 'pnpm admin finds pnpm start\'s database and prints only its own output')
  t.equal(admin.err, '')

  // A link issued now and paid only after a restart.
  const later = await fetch(`http://127.0.0.1:${issuer!}/v1/payment-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey!}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reference: 'before-restart', amount: { value: 300, currencyCode: 'GBP' } })
  })
  t.equal(later.status, 201)
  const laterLink = await later.json() as { url: string, paymentIntentId: string }

  await ctrlC(first)

  const second = await pnpmStart()
  const secondKey = /its API key for this run \(shown once\):\s+(plk_\S+)/.exec(second.output())?.[1]
  await page.goto(laterLink.url)
  await payAtCheckout(page)
  await page.getByText('Your payment went through').waitFor({ timeout: 60_000 })
  t.equal((await paidThrough(secondKey!, laterLink.paymentIntentId)).status, 'paid', 'a link issued before the restart is paid after it')
  await ctrlC(second)
})
