import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { api, type ApiKey } from '../api.js'
import { Field, FormError, Loading, Notice, PageTitle, serverField, ShownOnce, useLoad, useSubmit, when } from '../ui.js'
import { OwnerOnly } from './owner.js'

/** `/console/api-keys`: the merchant's partner API keys (the console's own is not listed). */
export function ApiKeysPage (): JSX.Element {
  return <OwnerOnly title='API keys'>{() => <ApiKeys />}</OwnerOnly>
}

function ApiKeys (): JSX.Element {
  const list = useLoad(async () => await api<{ data: ApiKey[] }>('/api-keys'), [])
  const [label, setLabel] = useState('')
  const [labelError, setLabelError] = useState<string | undefined>(undefined)
  const [created, setCreated] = useState<{ label: string, key: string } | undefined>(undefined)
  const form = useSubmit()
  const action = useSubmit()

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const bad = label.trim() === '' ? 'Enter a label that says where the key is used.' : undefined
    setLabelError(bad)
    if (bad !== undefined) return
    await form.run(async () => {
      const k = await api<{ label: string, key: string }>('/api-keys', { method: 'POST', body: { label: label.trim() } })
      setCreated(k)
      setLabel('')
      list.reload()
    })
  }

  return (
    <>
      <PageTitle>API keys</PageTitle>
      <form onSubmit={(e) => { void submit(e) }} noValidate aria-labelledby='new-key-title' class='panel'>
        <h2 id='new-key-title'>Create a key</h2>
        <FormError error={form.error} />
        <Field id='key-label' label='Label' error={labelError ?? serverField(form.error, 'label')}>
          {(p) => <input {...p} type='text' value={label} onInput={(e) => setLabel(e.currentTarget.value)} />}
        </Field>
        <button type='submit' disabled={form.busy}>Create key</button>
      </form>
      {created !== undefined && (
        <ShownOnce id='new-key' label='New key' value={created.key}>The key “{created.label}” is shown this once: keep it somewhere safe.</ShownOnce>
      )}
      <FormError error={action.error} />
      {list.data === undefined
        ? <Loading error={list.error} />
        : list.data.data.length === 0
          ? <p>No keys yet.</p>
          : (
            <div class='scroll'>
              <table>
                <thead><tr><th scope='col'>Label</th><th scope='col'>Created</th><th scope='col'>Last used</th><th scope='col'>State</th><th scope='col'><span class='visually-hidden'>Actions</span></th></tr></thead>
                <tbody>
                  {list.data.data.map((k) => (
                    <tr key={k.id}>
                      <td>{k.label}</td>
                      <td>{when(k.createdAt)}</td>
                      <td>{when(k.lastUsedAt)}</td>
                      <td>{k.revokedAt === null ? 'active' : `revoked ${when(k.revokedAt)}`}</td>
                      <td>{k.revokedAt === null && <button type='button' class='danger' onClick={() => { void action.run(async () => { await api(`/api-keys/${k.id}/revoke`, { method: 'POST' }); list.reload() }) }}>Revoke {k.label}</button>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
      {list.data !== undefined && list.data.data.length > 0 && <Notice>A revoked key stops working at once.</Notice>}
    </>
  )
}
