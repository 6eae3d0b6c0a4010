import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { useLocation, useRoute } from 'preact-iso'
import { api, type Role, type Session } from '../api.js'
import { looksLikeEmail } from '../money.js'
import { useSession } from '../session.js'
import { Field, FormError, Loading, Notice, PageTitle, useLoad, useSubmit } from '../ui.js'

const PASSWORD_RULE = 'At least 10 characters.'

function emailProblem (email: string): string | undefined {
  return looksLikeEmail(email) ? undefined : 'Enter your e-mail address, like name@example.com.'
}

function passwordProblem (password: string): string | undefined {
  if (password.length < 10) return 'Choose a password of at least 10 characters.'
  if (password.length > 200) return 'Choose a password of at most 200 characters.'
  return undefined
}

/** Only a path of the console itself may be where sign-in sends you next. */
function nextPath (url: string): string {
  const next = new URL(url, location.origin).searchParams.get('next')
  return next !== null && next.startsWith('/console/') && !next.startsWith('//') ? next : '/console/'
}

export function LoginPage (): JSX.Element {
  const { session, setSession } = useSession()
  const { url, route } = useLocation()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const form = useSubmit()

  if (session.user !== null) {
    return <><PageTitle>Signed in</PageTitle><p>You are signed in as {session.user.email}. <a href='/console/'>Go to the dashboard</a></p></>
  }

  async function submit (event: Event): Promise<void> {
    await form.submit(event, { email: emailProblem(email) }, async () => {
      const s = await api<Session>('/session', { method: 'POST', body: { email: email.trim(), password }, signedOutIsError: true })
      setSession(s)
      route(nextPath(url), true)
    })
  }

  return (
    <section class='narrow'>
      <PageTitle>Sign in</PageTitle>
      <form onSubmit={(e) => { void submit(e) }} noValidate>
        <FormError error={form.error} />
        <Field id='email' label='E-mail' error={form.fieldError('email')}>
          {(p) => <input {...p} type='email' autocomplete='username' value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />}
        </Field>
        <Field id='password' label='Password' error={form.fieldError('password')}>
          {(p) => <input {...p} type='password' autocomplete='current-password' value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />}
        </Field>
        <button type='submit' disabled={form.busy}>Sign in</button>
      </form>
      <p><a href='/console/reset'>Forgot your password?</a></p>
    </section>
  )
}

export function ResetAskPage (): JSX.Element {
  const [email, setEmail] = useState('')
  const [sent, setSent] = useState(false)
  const form = useSubmit()

  async function submit (event: Event): Promise<void> {
    await form.submit(event, { email: emailProblem(email) }, async () => {
      await api('/password-resets', { method: 'POST', body: { email: email.trim() }, signedOutIsError: true })
      setSent(true)
    })
  }

  return (
    <section class='narrow'>
      <PageTitle>Reset your password</PageTitle>
      {sent
        ? <Notice>If an account uses {email.trim()}, we have e-mailed it a link to set a new password. The link works once.</Notice>
        : (
          <form onSubmit={(e) => { void submit(e) }} noValidate>
            <FormError error={form.error} />
            <Field id='email' label='E-mail' error={form.fieldError('email')}>
              {(p) => <input {...p} type='email' autocomplete='username' value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />}
            </Field>
            <button type='submit' disabled={form.busy}>E-mail me a link</button>
          </form>
          )}
      <p><a href='/console/login'>Back to sign-in</a></p>
    </section>
  )
}

function NewPassword ({ value, onInput, error }: { value: string, onInput: (v: string) => void, error: string | undefined }): JSX.Element {
  return (
    <Field id='password' label='New password' hint={PASSWORD_RULE} error={error}>
      {(p) => <input {...p} type='password' autocomplete='new-password' value={value} onInput={(e) => onInput(e.currentTarget.value)} required />}
    </Field>
  )
}

export function ResetSetPage (): JSX.Element {
  const { params } = useRoute()
  const [password, setPassword] = useState('')
  const [done, setDone] = useState(false)
  const form = useSubmit()

  async function submit (event: Event): Promise<void> {
    await form.submit(event, { password: passwordProblem(password) }, async () => {
      await api(`/password-resets/${encodeURIComponent(params.token ?? '')}`, { method: 'POST', body: { password }, signedOutIsError: true })
      setDone(true)
    })
  }

  return (
    <section class='narrow'>
      <PageTitle>Set a new password</PageTitle>
      {done
        ? <Notice>Your password is changed, and every session of your account has ended. <a href='/console/login'>Sign in</a> with the new password.</Notice>
        : (
          <form onSubmit={(e) => { void submit(e) }} noValidate>
            <FormError error={form.error} />
            <NewPassword value={password} onInput={setPassword} error={form.fieldError('password')} />
            <button type='submit' disabled={form.busy}>Set password</button>
          </form>
          )}
    </section>
  )
}

interface Invite { email: string, role: Role, merchant: { tradingName: string } }

export function InvitePage (): JSX.Element {
  const { params } = useRoute()
  const { setSession } = useSession()
  const { route } = useLocation()
  const token = encodeURIComponent(params.token ?? '')
  const invite = useLoad(async () => await api<Invite>(`/invites/${token}`, { signedOutIsError: true }), [token])
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const form = useSubmit()

  async function submit (event: Event): Promise<void> {
    await form.submit(event, { name: name.trim() === '' ? 'Enter your name.' : undefined, password: passwordProblem(password) }, async () => {
      setSession(await api<Session>(`/invites/${token}`, { method: 'POST', body: { name: name.trim(), password }, signedOutIsError: true }))
      route('/console/', true)
    })
  }

  return (
    <section class='narrow'>
      <PageTitle>Join the console</PageTitle>
      {invite.data === undefined
        ? <Loading error={invite.error} />
        : (
          <>
            <p>You are invited to {invite.data.merchant.tradingName} as <strong>{invite.data.role}</strong>, with the e-mail {invite.data.email}.</p>
            <form onSubmit={(e) => { void submit(e) }} noValidate>
              <FormError error={form.error} />
              <Field id='name' label='Your name' error={form.fieldError('name')}>
                {(p) => <input {...p} type='text' autocomplete='name' value={name} onInput={(e) => setName(e.currentTarget.value)} required />}
              </Field>
              <NewPassword value={password} onInput={setPassword} error={form.fieldError('password')} />
              <button type='submit' disabled={form.busy}>Set password and sign in</button>
            </form>
          </>
          )}
    </section>
  )
}
