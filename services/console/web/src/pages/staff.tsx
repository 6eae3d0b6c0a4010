import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { api, type Role, type StaffList } from '../api.js'
import { looksLikeEmail } from '../money.js'
import { useSession } from '../session.js'
import { Field, FormError, Loading, Notice, PageTitle, serverField, useLoad, useSubmit, when } from '../ui.js'
import { OwnerOnly } from './owner.js'

const ROLES: Role[] = ['viewer', 'staff', 'owner']

/** `/console/staff`: who can sign in, with which role, and the invites not yet taken up. */
export function StaffPage (): JSX.Element {
  return <OwnerOnly title='Staff'>{() => <Staff />}</OwnerOnly>
}

function Staff (): JSX.Element {
  const { session } = useSession()
  const list = useLoad(async () => await api<StaffList>('/staff'), [])
  const action = useSubmit()
  const handleInvited = list.reload
  const act = (path: string, method: string, body?: unknown): void => {
    void action.run(async () => { await api(path, { method, body }); list.reload() })
  }
  return (
    <>
      <PageTitle>Staff</PageTitle>
      <InviteForm onInvited={handleInvited} />
      <FormError error={action.error} />
      {list.data === undefined
        ? <Loading error={list.error} />
        : (
          <>
            <h2>People</h2>
            <div class='scroll'>
              <table>
                <thead><tr><th scope='col'>Name</th><th scope='col'>E-mail</th><th scope='col'>Role</th><th scope='col'>Since</th><th scope='col'><span class='visually-hidden'>Actions</span></th></tr></thead>
                <tbody>
                  {list.data.users.map((u) => (
                    <tr key={u.id}>
                      <td>{u.name}</td>
                      <td>{u.email}</td>
                      <td>
                        <label class='visually-hidden' for={`role-${u.id}`}>Role of {u.name}</label>
                        <select id={`role-${u.id}`} value={u.role} onChange={(e) => act(`/staff/${u.id}`, 'PATCH', { role: e.currentTarget.value })}>
                          {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                        </select>
                      </td>
                      <td>{when(u.createdAt)}</td>
                      <td>{u.id !== session.user?.id && <button type='button' class='danger' onClick={() => act(`/staff/${u.id}`, 'DELETE')}>Remove {u.name}</button>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h2>Invites</h2>
            {list.data.invites.length === 0
              ? <p>No open invites.</p>
              : (
                <ul class='plain'>
                  {list.data.invites.map((i) => (
                    <li key={i.id}>
                      {i.email} as {i.role}, until {when(i.expiresAt)}{' '}
                      <button type='button' class='secondary' onClick={() => act(`/staff/invites/${i.id}`, 'DELETE')}>Withdraw invite to {i.email}</button>
                    </li>
                  ))}
                </ul>
                )}
          </>
          )}
    </>
  )
}

function InviteForm ({ onInvited }: { onInvited: () => void }): JSX.Element {
  const [email, setEmail] = useState('')
  const [role, setRole] = useState<Role>('staff')
  const [error, setError] = useState<string | undefined>(undefined)
  const [sent, setSent] = useState<string | undefined>(undefined)
  const form = useSubmit()
  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const bad = looksLikeEmail(email) ? undefined : 'Enter their e-mail address, like name@example.com.'
    setError(bad)
    setSent(undefined)
    if (bad !== undefined) return
    await form.run(async () => {
      await api('/staff/invites', { method: 'POST', body: { email: email.trim(), role } })
      setSent(email.trim())
      setEmail('')
      onInvited()
    })
  }
  return (
    <form onSubmit={(e) => { void submit(e) }} noValidate aria-labelledby='invite-title' class='panel'>
      <h2 id='invite-title'>Invite someone</h2>
      <FormError error={form.error} />
      <div class='row'>
        <Field id='invite-email' label='E-mail' error={error ?? serverField(form.error, 'email')}>
          {(p) => <input {...p} type='email' autocomplete='off' value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <Field id='invite-role' label='Role' hint='Viewers read; staff also create and refund links; owners also manage staff, keys and webhooks.'>
          {(p) => <select {...p} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>{ROLES.map((r) => <option key={r} value={r}>{r}</option>)}</select>}
        </Field>
      </div>
      <button type='submit' disabled={form.busy}>Send invite</button>
      {sent !== undefined && <Notice>Invite e-mailed to {sent}.</Notice>}
    </form>
  )
}
