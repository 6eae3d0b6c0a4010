import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '@paylinks/service-kit'
import { startSandbox, until, type SandboxProcess } from '@paylinks/test-kit'
import { SandboxConfigSchema, sandboxOptions } from '../src/config.js'
import { Sandbox } from '../src/sandbox.js'
import { CARDS, headers, KEY, startReceiver } from './helper.js'

// The sandbox as a process on a state directory, stopped (SIGTERM, then SIGKILL) and started
// again on it: what it acknowledged is all still there, and payable.
t.test('the sandbox should keep intents, refunds, subscriptions, accounts and pending deliveries across a SIGTERM and a SIGKILL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  let failing = true
  const receiver = await startReceiver(t, () => failing ? 500 : 200)
  // The first retry far away: a failed delivery stays pending across the restart, which
  // resumes it with the next attempt (and quick ones after, should a busy machine time one out).
  const env = { SANDBOX_STATE_DIR: dir, WEBHOOK_RETRY_DELAYS_MS: '600000,100,100,100', WEBHOOK_TIMEOUT_MS: '10000' }
  const api = async (sandbox: SandboxProcess, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: { ...headers(KEY, extra), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
  }
  const create = async (sandbox: SandboxProcess, extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await api(sandbox, 'POST', '/payment-intents', { amount: { value: 1050, currencyCode: 'GBP' }, reference: 'Order 1', ...extra })
    t.equal(res.status, 200, 'created')
    return res.body.id as string
  }

  const first = await startSandbox(t, env)
  await first.account(KEY, 'Corner Bakery')
  const sub = await api(first, 'POST', '/webhooks', { events: ['payment_intent.status_updated'], url: receiver.url })
  t.equal(sub.status, 200)
  const paid = await create(first)
  await first.pay(paid)
  const refund = await api(first, 'POST', `/payment-intents/${paid}/refunds`, { amount: 300 }, { idempotencyKey: 'refund-1' })
  t.equal(refund.status, 200)
  const unpaid = await create(first)
  const manual = await create(first, { captureMode: 'Manual' })
  await first.pay(manual)
  // Two status changes, each tried once and refused: pending, their retry ten minutes away.
  const refused = [...await receiver.waitFor(2)]
  const before = (await first.control('GET', `/webhooks/${sub.body.id as string}/deliveries`)).body
  // Paid (Captured) and the Manual one Authorized; the partial refund leaves it Captured: no change.
  t.same(before.deliveries.map((d: any) => d.status), ['pending', 'pending'])

  t.equal(await first.process.kill('SIGTERM'), 0, 'a SIGTERM stops it cleanly')
  t.notMatch(readFileSync(join(dir, 'state.jsonl'), 'utf8'), KEY, 'the secret key is not on disk')
  t.notMatch(readFileSync(join(dir, 'state.jsonl'), 'utf8'), '5200000000001005', 'nor a card number')

  failing = false
  const second = await startSandbox(t, env)
  t.match((await api(second, 'GET', `/payment-intents/${paid}`)).body, { status: 'Captured', refundedAmount: 300, config: { tradingName: 'Corner Bakery' } })
  t.same((await api(second, 'POST', `/payment-intents/${paid}/refunds`, { amount: 300 }, { idempotencyKey: 'refund-1' })).body, refund.body, 'the refund replays by its idempotency key')
  t.equal((await api(second, 'GET', `/payment-intents/${manual}`)).body.status, 'Authorized')
  t.equal((await api(second, 'GET', '/webhooks')).body[0]?.id, sub.body.id, 'the subscription is kept')
  const page = await (await fetch(`${second.url}/checkout/${unpaid}`)).text()
  t.match(page, 'Corner Bakery', 'the checkout page shows the account\'s trading name')
  // The pending deliveries go out again at start, the same bytes and signature.
  const again = (await receiver.waitFor(4)).slice(2)
  t.same(again.map((r) => r.body).sort(), refused.map((r) => r.body).sort(), 'the same events, byte for byte')
  t.same(again.map((r) => r.headers['dojo-signature']).sort(), refused.map((r) => r.headers['dojo-signature']).sort(), 'signed with the same secret')
  await until(async () => (await second.control('GET', `/webhooks/${sub.body.id as string}/deliveries`)).body.deliveries.every((d: any) => d.status === 'delivered'), { what: 'the deliveries marked delivered', timeoutMs: 10_000 })

  // Acknowledged, then killed with no chance to flush anything: still there.
  const created = await create(second)
  t.equal(await second.process.kill('SIGKILL'), 'SIGKILL')
  const third = await startSandbox(t, env)
  t.equal((await api(third, 'GET', `/payment-intents/${created}`)).body.status, 'Created', 'an intent acknowledged just before a SIGKILL survives it')
  const result = await third.control('POST', `/payment-intents/${created}/pay`, CARDS.success)
  t.match(result, { status: 200, body: { outcome: 'Captured', status: 'Captured' } }, 'and can be paid')
  t.equal((await third.control('POST', `/payment-intents/${unpaid}/pay`, CARDS.success)).body.status, 'Captured', 'so can the one made by the first process')
  const ids = new Set(((await api(third, 'POST', '/payment-intents/search', {})).body.data as Array<{ id: string }>).map((i) => i.id))
  t.same([...ids].sort(), [paid, unpaid, manual, created].sort(), 'search sees all four, none twice')
})

t.test('the sandbox should refuse a state directory another live sandbox holds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  await startSandbox(t, { SANDBOX_STATE_DIR: dir })
  await t.rejects(startSandbox(t, { SANDBOX_STATE_DIR: dir }), /in use by process \d+/)
})

t.test('the state file should be snapshotted when it grows, and read past a torn last line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'state.jsonl')
  const options = { ...sandboxOptions(loadConfig(SandboxConfigSchema, {})), stateDir: dir }
  const first = new Sandbox(options)
  const intent = first.createIntent(KEY, { amount: { value: 500, currencyCode: 'EUR' }, reference: 'grow' })
  // Each flush appends the intent again: past twice the live state plus 10 000 lines, a snapshot.
  for (let i = 0; i < 10_050; i++) { first.refreshSessionSecret(KEY, intent.id); first.flush() }
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length
  t.ok(lines < 100, `the file was rewritten as a snapshot (${lines} lines)`)
  const secret = intent.clientSessionSecret
  await first.close()
  // A crash mid-write leaves half a line at the end.
  appendFileSync(file, '{"kind":"intent","id":"pi_sandbox_torn","val')
  const second = new Sandbox(options)
  t.teardown(() => second.close())
  t.equal(second.getIntent(KEY, intent.id).clientSessionSecret, secret, 'the last value of the intent, past the torn line')
  t.equal(second.findIntent('pi_sandbox_torn'), undefined)
})
