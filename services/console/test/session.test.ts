import t from 'tap'
import { startSmtp, until } from '@paylinks/test-kit'
import { browser, buildConsole } from './helpers.js'

const mailbox = await startSmtp(t)
const world = await buildConsole(t, { SMTP_URL: mailbox.url, LOGIN_MAX_PER_EMAIL: '4', LOGIN_MAX_PER_ADDRESS: '1000' })

t.test('a staff member should sign in, see who they are, and sign out', async (t) => {
  const owner = await world.user('owner')
  const b = browser(world.app)
  const before = await b.session()
  t.equal(before.user, null)
  t.equal(before.merchant, null)
  t.type(before.csrfToken, 'string')
  const signed = await b.signIn(owner.email.toUpperCase(), owner.password)
  t.equal(signed.status, 200)
  t.same(signed.body.user, { id: owner.id, email: owner.email, name: owner.name, role: 'owner' })
  t.same(signed.body.merchant, { id: world.merchantId, tradingName: 'Corner Café' })
  const cookie = (await b.request('GET', '/console/api/session')).headers['set-cookie']
  t.match(String(cookie ?? ''), cookie === undefined ? '' : /HttpOnly/)
  t.equal((await b.session()).user.id, owner.id)
  const out = await b.request('DELETE', '/console/api/session')
  t.equal(out.status, 204)
  const after = await b.session()
  t.equal(after.user, null)
  t.equal((await b.request('GET', '/console/api/staff')).status, 401)
})

t.test('the session cookie should be HttpOnly, SameSite=Lax, scoped to /console, and rotated at sign-in', async (t) => {
  const owner = await world.user('owner')
  const b = browser(world.app)
  await b.session()
  // An anonymous session exists once a CSRF token was handed out; signing in gets a new id.
  const anonymous = b.cookie
  t.ok(anonymous)
  const response = await world.app.inject({ method: 'POST', url: '/console/api/session', headers: { cookie: b.cookie!, 'x-csrf-token': b.csrf, 'content-type': 'application/json' }, payload: JSON.stringify({ email: owner.email, password: owner.password }) })
  t.equal(response.statusCode, 200)
  const set = String(response.headers['set-cookie'])
  t.match(set, /^pl_console=/)
  t.match(set, /HttpOnly/)
  t.match(set, /SameSite=Lax/)
  t.match(set, /Path=\/console/)
  t.notMatch(set, /Secure/, 'not Secure over http')
  t.not(set.split(';')[0], anonymous, 'a new session id')
})

t.test('a wrong password or unknown e-mail should be refused alike, and a bad form named field by field', async (t) => {
  const owner = await world.user('staff')
  const b = browser(world.app)
  const wrong = await b.signIn(owner.email, 'not the password')
  t.equal(wrong.status, 401)
  t.match(wrong.body, { code: 'CONSOLE_LOGIN_FAILED', detail: 'The e-mail or password is wrong.' })
  const unknown = await b.signIn('nobody@shop.example', 'whatever-password')
  t.match(unknown.body, { status: 401, code: 'CONSOLE_LOGIN_FAILED' })
  t.equal((await b.session()).user, null)
  const bad = await b.request('POST', '/console/api/session', { email: 'not-an-email' })
  t.equal(bad.status, 400)
  t.same(bad.body.errors.map((e: any) => [e.field, e.message]), [['email', 'Enter an e-mail address like name@example.com.'], ['password', 'Enter your password.']])
})

t.test('sign-in attempts for one e-mail should be limited with 429 and Retry-After', async (t) => {
  const staff = await world.user('staff')
  const b = browser(world.app)
  for (let i = 0; i < 4; i++) t.equal((await b.signIn(staff.email, 'wrong password')).status, 401)
  const limited = await b.signIn(staff.email, staff.password)
  t.equal(limited.status, 429)
  t.match(limited.body, { code: 'CONSOLE_LIMITED' })
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.equal((await b.session()).user, null, 'not signed in, even with the right password')
  // Another e-mail from the same address is not limited by it.
  const other = await world.user('staff')
  t.equal((await b.signIn(other.email, other.password)).status, 200)
})

t.test('a write without the CSRF token, or with a wrong one, should be refused with 403 and change nothing', async (t) => {
  const owner = await world.user('owner')
  const b = browser(world.app)
  await b.session()
  const missing = await b.request('POST', '/console/api/session', { email: owner.email, password: owner.password }, { 'x-csrf-token': '' })
  t.equal(missing.status, 403)
  t.match(missing.body, { code: 'CONSOLE_CSRF' })
  const wrong = await b.request('POST', '/console/api/session', { email: owner.email, password: owner.password }, { 'x-csrf-token': 'forged' })
  t.match(wrong.body, { status: 403, code: 'CONSOLE_CSRF' })
  t.equal((await b.session()).user, null)
  t.equal((await b.signIn(owner.email, owner.password)).status, 200)
  // Signed in: a token of another session does not do either.
  const other = browser(world.app)
  await other.session()
  const invite = await b.request('POST', '/console/api/staff/invites', { email: 'forged@shop.example', role: 'owner' }, { 'x-csrf-token': other.csrf })
  t.match(invite.body, { status: 403, code: 'CONSOLE_CSRF' })
  const out = await b.request('DELETE', '/console/api/session', undefined, { 'x-csrf-token': 'forged' })
  t.equal(out.status, 403)
  t.equal((await b.session()).user.id, owner.id, 'still signed in')
  const rows = await world.db.selectFrom('console.tokens').select('id').where('email', '=', 'forged@shop.example').execute()
  t.same(rows, [])
})

t.test('a password reset should e-mail a single-use link, set the password and end every session', async (t) => {
  const staff = await world.user('staff')
  const signedIn = browser(world.app)
  t.equal((await signedIn.signIn(staff.email, staff.password)).status, 200)
  const b = browser(world.app)
  await b.session()
  t.equal((await b.request('POST', '/console/api/password-resets', { email: 'nobody@shop.example' })).status, 202, 'the same answer for no account')
  const sent = mailbox.messages.length
  t.equal((await b.request('POST', '/console/api/password-resets', { email: staff.email })).status, 202)
  const mail = await until(() => mailbox.messages.slice(sent).find((m) => m.to.includes(staff.email)), { what: 'the reset e-mail' })
  const token = /http:\/\/console\.paylinks\.test\/console\/reset\/([A-Za-z0-9_-]+)/.exec(mail.raw.replace(/=\r?\n/g, ''))?.[1]
  t.ok(token, 'the e-mail holds the reset URL')
  const short = await b.request('POST', `/console/api/password-resets/${token!}`, { password: 'short' })
  t.equal(short.status, 400)
  t.same(short.body.errors.map((e: any) => e.field), ['password'])
  t.equal((await b.request('POST', `/console/api/password-resets/${token!}`, { password: 'a new long password' })).status, 204)
  t.match((await b.request('POST', `/console/api/password-resets/${token!}`, { password: 'another long password' })).body, { status: 410, code: 'CONSOLE_TOKEN_EXPIRED' })
  t.equal((await signedIn.session()).user, null, 'the session that was signed in has ended')
  t.equal((await b.signIn(staff.email, staff.password)).status, 401, 'the old password is gone')
  t.equal((await b.signIn(staff.email, 'a new long password')).status, 200)
})

t.test('an owner should invite staff by e-mail, who accept and are signed in with the invited role', async (t) => {
  const owner = await world.user('owner')
  const b = browser(world.app)
  await b.signIn(owner.email, owner.password)
  const email = `new-${Date.now()}@shop.example`
  const bad = await b.request('POST', '/console/api/staff/invites', { email: 'nope', role: 'boss' })
  t.same(bad.body.errors.map((e: any) => e.field), ['email', 'role'])
  const sent = mailbox.messages.length
  const invite = await b.request('POST', '/console/api/staff/invites', { email, role: 'viewer' })
  t.equal(invite.status, 201)
  t.match(invite.body, { id: /^inv_/, email, role: 'viewer' })
  t.equal((await b.request('POST', '/console/api/staff/invites', { email: owner.email, role: 'staff' })).status, 409, 'already a user')
  const mail = await until(() => mailbox.messages.slice(sent).find((m) => m.to.includes(email)), { what: 'the invite e-mail' })
  const token = /\/console\/invite\/([A-Za-z0-9_-]+)/.exec(mail.raw.replace(/=\r?\n/g, ''))?.[1]
  t.ok(token)
  t.match((await b.request('GET', '/console/api/staff')).body, { invites: [{ id: invite.body.id, email, role: 'viewer' }] })

  const invitee = browser(world.app)
  await invitee.session()
  t.match((await invitee.request('GET', `/console/api/invites/${token!}`)).body, { email, role: 'viewer', merchant: { tradingName: 'Corner Café' } })
  const accepted = await invitee.request('POST', `/console/api/invites/${token!}`, { name: 'Vera Viewer', password: 'viewer password 1' })
  t.equal(accepted.status, 200)
  t.match(accepted.body, { user: { email, name: 'Vera Viewer', role: 'viewer' }, merchant: { id: world.merchantId } })
  invitee.csrf = accepted.body.csrfToken
  t.equal((await invitee.session()).user.role, 'viewer', 'signed in')
  t.equal((await invitee.request('GET', '/console/api/staff')).status, 403, 'a viewer does not manage staff')
  t.equal((await browser(world.app).request('GET', `/console/api/invites/${token!}`)).status, 410, 'used once')
  const staff = (await b.request('GET', '/console/api/staff')).body
  t.ok(staff.users.some((u: any) => u.email === email && u.role === 'viewer'))
  t.notOk(staff.invites.some((i: any) => i.id === invite.body.id))
})

t.test('the last owner should not be demoted or removed; a removed member is signed out at once', async (t) => {
  const merchantId = await world.merchant('Solo Shop')
  const owner = await world.user('owner', { merchantId })
  const staff = await world.user('staff', { merchantId })
  const b = browser(world.app)
  await b.signIn(owner.email, owner.password)
  t.match((await b.request('PATCH', `/console/api/staff/${owner.id}`, { role: 'staff' })).body, { status: 409, code: 'CONSOLE_CONFLICT' })
  t.equal((await b.request('DELETE', `/console/api/staff/${owner.id}`)).status, 409)
  const s = browser(world.app)
  await s.signIn(staff.email, staff.password)
  t.equal((await s.request('PATCH', `/console/api/staff/${owner.id}`, { role: 'viewer' })).status, 403, 'staff do not change roles')
  t.match((await b.request('PATCH', `/console/api/staff/${staff.id}`, { role: 'viewer' })).body, { id: staff.id, role: 'viewer' })
  // Another merchant's owner cannot touch this merchant's staff.
  const stranger = await world.user('owner')
  const x = browser(world.app)
  await x.signIn(stranger.email, stranger.password)
  t.equal((await x.request('DELETE', `/console/api/staff/${staff.id}`)).status, 404)
  t.equal((await s.session()).user.role, 'viewer')
  t.equal((await b.request('DELETE', `/console/api/staff/${staff.id}`)).status, 204)
  t.equal((await s.session()).user, null, 'the removed member\'s session has ended')
  t.equal((await s.signIn(staff.email, staff.password)).status, 401)
})
