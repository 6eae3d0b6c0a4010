import { createServer } from 'node:net'
import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { onTeardown } from '@paylinks/test-kit'
import { createSender } from '../src/sender.js'
import { newSigningSecret, sign, webhookHeaders } from '../src/signing.js'
import { checkUrl, refusalFor, resolveChecked } from '../src/ssrf.js'

const strict = { allowHttpLoopback: false }
const dev = { allowHttpLoopback: true }

t.test('refusalFor should allow only public unicast addresses (loopback when allowed)', async (t) => {
  for (const a of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', '169.254.169.254', '169.254.1.1', '127.0.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '192.0.2.1', '198.18.0.1']) {
    t.type(refusalFor(a, strict), 'string', `${a} is refused`)
  }
  t.match(refusalFor('169.254.169.254', strict), /metadata/)
  t.match(refusalFor('fd00:ec2::254', strict), /metadata/)
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) t.equal(refusalFor(a, strict), undefined, `${a} is allowed`)
  t.equal(refusalFor('127.0.0.1', dev), undefined, 'loopback when allowed for development')
  t.type(refusalFor('10.0.0.1', dev), 'string', 'private stays refused in development')
})

t.test('checkUrl should take https only (http when loopback is allowed) and refuse internal IP literals', async (t) => {
  t.throws(() => checkUrl('http://example.com/hook', strict), { code: 'WEBHOOK_URL_NOT_HTTPS' })
  t.throws(() => checkUrl('https://10.1.2.3/hook', strict), { code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS' })
  t.throws(() => checkUrl('https://[::ffff:a9fe:a9fe]/latest', strict), { code: 'WEBHOOK_URL_FORBIDDEN_ADDRESS' }, '169.254.169.254 written as IPv6')
  t.throws(() => checkUrl('https://user:pw@example.com/', strict), { code: 'WEBHOOK_URL_CREDENTIALS' })
  t.throws(() => checkUrl('not a url', strict), { code: 'WEBHOOK_URL_INVALID' })
  t.equal(checkUrl('https://hooks.example.com/paylinks', strict).hostname, 'hooks.example.com')
  t.equal(checkUrl('http://127.0.0.1:9/x', dev).port, '9')
})

t.test('resolveChecked should refuse a name when any address it resolves to is internal (DNS rebinding, split answers)', async (t) => {
  const fake = (addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })) as any
  await t.rejects(resolveChecked('evil.example', strict, fake(['93.184.216.34', '10.0.0.7'])), { code: 'WEBHOOK_FORBIDDEN_ADDRESS' })
  await t.rejects(resolveChecked('meta.example', strict, fake(['169.254.169.254'])), /metadata/)
  t.same(await resolveChecked('ok.example', strict, fake(['93.184.216.34'])), [{ address: '93.184.216.34', family: 4 }])
  await t.rejects(resolveChecked('localhost', strict), { code: 'WEBHOOK_FORBIDDEN_ADDRESS' }, 'the real resolver: localhost is loopback')
})

t.test('the sender should refuse a name resolving to loopback without connecting, and an internal literal before any socket', async (t) => {
  let connections = 0
  const server = createServer((socket) => { connections++; socket.destroy() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTeardown(t, () => new Promise<void>((resolve) => server.close(() => { resolve() })))
  const port = (server.address() as { port: number }).port
  const sender = createSender({ policy: strict, timeoutMs: 1000 })
  onTeardown(t, () => sender.close())
  const byName = await sender.send(`https://localhost:${port}/hooks`, {}, '{}')
  t.equal(byName.refused, 'WEBHOOK_FORBIDDEN_ADDRESS')
  t.match(byName.error, /localhost resolves to .*loopback/)
  for (const target of ['https://10.0.0.1/hook', 'https://169.254.169.254/latest/meta-data', 'https://[fd00:ec2::254]/']) {
    const r = await sender.send(target, {}, '{}')
    t.equal(r.refused, 'WEBHOOK_URL_FORBIDDEN_ADDRESS', `${target} refused`)
    t.equal(r.statusCode, undefined)
  }
  t.equal(connections, 0, 'no connection was made')
})

t.test('our signatures should verify with the Standard Webhooks reference library, one or both secrets', async (t) => {
  const [a, b] = [newSigningSecret(), newSigningSecret()]
  const body = JSON.stringify({ id: 'e1', type: 'payment_link.paid', data: { n: 1 } })
  const headers = webhookHeaders([b, a], '0b7f4d8e-1a2b-4c3d-9e8f-0123456789ab', body)
  t.match(headers['webhook-signature'], /^v1,\S+ v1,\S+$/)
  t.same(new Webhook(a).verify(body, headers), JSON.parse(body), 'the previous secret verifies')
  t.same(new Webhook(b).verify(body, headers), JSON.parse(body), 'the new secret verifies')
  t.throws(() => new Webhook(newSigningSecret()).verify(body, headers), /No matching signature/)
  t.throws(() => new Webhook(a).verify(body.replace('1', '2'), headers), /No matching signature/, 'a changed body fails')
  const ref = new Webhook(a).sign('msg_1', new Date(1_700_000_000_000), body)
  t.equal(sign(a, 'msg_1', 1_700_000_000, body), ref, 'the same signature as the reference library makes')
})
