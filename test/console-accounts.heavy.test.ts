// The console's accounts as staff meet them in chromium: the first owner from `pnpm admin`,
// invites and password resets by e-mail, roles, CSRF and sessions. Heavy: eight processes.
import t from 'tap'
import type { Page } from 'playwright-core'
import { assertAccessible } from '@paylinks/test-kit/browser'
import { acceptInvite, fetchFromPage, firstOwnerUrl, invite, INVITE_URL, mailedUrl, newPage, person, screenshot, signIn, startConsoleSystem } from './console-system.js'

const system = await startConsoleSystem(t)
const owner = person('owner')
const staff = person('staff')
const viewer = person('viewer')
let ownerPage: Page
let staffPage: Page

t.test('the first owner should set a password from the admin command\'s URL, and invite staff by e-mail', async (t) => {
  ownerPage = await newPage(system)
  await acceptInvite(t, ownerPage, await firstOwnerUrl(system, owner.email, 'Olive Owner'), 'Olive Owner', owner.password, true)
  t.ok(await ownerPage.getByText('Olive Owner (owner)').isVisible(), 'signed in as the owner')

  await ownerPage.getByRole('link', { name: 'Staff' }).click()
  await ownerPage.getByRole('heading', { name: 'People' }).waitFor()
  await assertAccessible(t, ownerPage, 'the staff page')
  await invite(ownerPage, staff.email, 'staff')
  await invite(ownerPage, viewer.email, 'viewer')
  await ownerPage.getByText(`${staff.email} as staff`).waitFor()
  await assertAccessible(t, ownerPage, 'the staff page with open invites')
  await screenshot(ownerPage, 'staff')

  staffPage = await newPage(system)
  await acceptInvite(t, staffPage, await mailedUrl(system.mailbox, staff.email, INVITE_URL, 'the staff invite e-mail'), 'Sam Staff', staff.password)
  t.ok(await staffPage.getByText('Sam Staff (staff)').isVisible(), 'the staff member is signed in')
  t.notOk(await staffPage.getByRole('link', { name: 'Staff' }).isVisible(), 'staff do not see the staff page in the menu')
  await ownerPage.reload()
  await ownerPage.getByRole('cell', { name: 'Sam Staff', exact: true }).waitFor()
  t.pass('the owner sees the staff member among the people')
})

t.test('a viewer should have no way to create a link or manage staff, and the server should refuse a forged request', async (t) => {
  const page = await newPage(system)
  await acceptInvite(t, page, await mailedUrl(system.mailbox, viewer.email, INVITE_URL, 'the viewer invite e-mail'), 'Val Viewer', viewer.password)
  t.notOk(await page.getByRole('link', { name: 'New link' }).isVisible(), 'no New link in the menu')
  t.notOk(await page.getByRole('link', { name: 'Staff' }).isVisible(), 'no Staff in the menu')
  await page.goto(`${system.origin}/console/links/new`)
  await page.getByText('can look at links but not create them').waitFor()
  t.notOk(await page.getByRole('button', { name: 'Create link' }).isVisible(), 'no form to create a link')
  await assertAccessible(t, page, 'the new-link page as a viewer')
  await page.goto(`${system.origin}/console/staff`)
  await page.getByText('Only an owner of the account can manage this.').waitFor()
  t.notOk(await page.getByRole('button', { name: 'Send invite' }).isVisible(), 'no invite form')
  const forged = await fetchFromPage(page, '/console/api/staff/invites', { method: 'POST', body: { email: `x-${Date.now()}@corner.example`, role: 'owner' }, csrf: 'session' })
  t.same(forged, { status: 403, code: 'CONSOLE_FORBIDDEN' }, 'the server refuses a viewer\'s invite, token and all')
})

t.test('a write without the CSRF token should be refused, and after sign-out every page should go to sign-in', async (t) => {
  const body = { email: `csrf-${Date.now()}@corner.example`, role: 'viewer' }
  const noToken = await fetchFromPage(ownerPage, '/console/api/staff/invites', { method: 'POST', body, csrf: 'none' })
  t.same(noToken, { status: 403, code: 'CONSOLE_CSRF' }, 'no x-csrf-token: refused')
  const withToken = await fetchFromPage(ownerPage, '/console/api/staff/invites', { method: 'POST', body, csrf: 'session' })
  t.equal(withToken.status, 201, 'the same request with the token goes through: the refusal was the token')

  const page = staffPage
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  for (const path of ['/console/', '/console/links', '/console/links/new', '/console/staff', '/console/api-keys', '/console/webhooks']) {
    await page.goto(`${system.origin}${path}`)
    await page.waitForURL(/\/console\/login\?next=/)
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    t.equal(new URL(page.url()).searchParams.get('next'), path, `${path} sends you to sign-in, and back after`)
  }
  const staffList = await fetchFromPage(page, '/console/api/staff', { method: 'GET', csrf: 'none' })
  t.same(staffList, { status: 401, code: 'CONSOLE_SIGNED_OUT' }, 'the API refuses the ended session')
  await assertAccessible(t, page, 'the sign-in page')
  await screenshot(page, 'login')

  await page.getByLabel('E-mail').fill(staff.email)
  await page.getByLabel('Password').fill('not the password at all')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText('The e-mail or password is wrong.').waitFor()
  await assertAccessible(t, page, 'the sign-in page with its error')
  await page.getByLabel('Password').fill(staff.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(/\/console\/webhooks$/)
  await page.getByRole('heading', { name: 'Webhooks' }).waitFor()
  t.ok(await page.getByText('Only an owner of the account can manage this.').isVisible(), 'back on the page asked for, which staff may not manage')
})

t.test('a password reset by e-mail should set a new password that signs in, end the old sessions, and work once', async (t) => {
  const page = await newPage(system)
  await page.goto(`${system.origin}/console/login`)
  await page.getByRole('link', { name: 'Forgot your password?' }).click()
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor()
  await assertAccessible(t, page, 'the ask-for-a-reset page')
  await page.getByLabel('E-mail').fill(staff.email)
  await page.getByRole('button', { name: 'E-mail me a link' }).click()
  await page.getByText(`If an account uses ${staff.email}`).waitFor()
  const resetUrl = await mailedUrl(system.mailbox, staff.email, /http:\/\/\S+\/console\/reset\/[A-Za-z0-9_-]+/, 'the reset e-mail')
  await page.goto(resetUrl)
  await page.getByRole('heading', { name: 'Set a new password' }).waitFor()
  await page.getByLabel('New password').fill('short')
  await page.getByRole('button', { name: 'Set password' }).click()
  await page.getByText('Choose a password of at least 10 characters.').waitFor()
  await assertAccessible(t, page, 'the set-a-new-password page with its error')
  const fresh = `new-${staff.password}`
  await page.getByLabel('New password').fill(fresh)
  await page.getByRole('button', { name: 'Set password' }).click()
  await page.getByText('Your password is changed').waitFor()

  await staffPage.goto(`${system.origin}/console/links`)
  await staffPage.waitForURL(/\/console\/login\?next=/)
  t.pass('the session signed in before the reset has ended')

  await page.goto(resetUrl)
  await page.getByLabel('New password').fill(`another-${staff.password}`)
  await page.getByRole('button', { name: 'Set password' }).click()
  await page.getByRole('alert').filter({ hasText: /./ }).waitFor()
  t.notOk(await page.getByText('Your password is changed').isVisible(), 'the link works once')

  await signIn(page, system.origin, staff.email, staff.password)
  await page.getByText('The e-mail or password is wrong.').waitFor()
  t.pass('the old password no longer signs in')
  await signIn(page, system.origin, staff.email, fresh)
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
  t.pass('the new password signs in')
})
