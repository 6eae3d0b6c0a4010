import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { api, type WebhookEndpoint } from '../api.js'
import { Field, FormError, Loading, PageTitle, serverField, ShownOnce, useLoad, useSubmit, when } from '../ui.js'
import { OwnerOnly } from './owner.js'

/** `/console/webhooks`: the merchant's signed-webhook endpoints (webhook-dispatch's API). */
export function WebhooksPage (): JSX.Element {
  return <OwnerOnly title='Webhooks'>{() => <Webhooks />}</OwnerOnly>
}

function Webhooks (): JSX.Element {
  const list = useLoad(async () => await api<{ data: WebhookEndpoint[] }>('/webhook-endpoints'), [])
  const [url, setUrl] = useState('')
  const [description, setDescription] = useState('')
  const [urlError, setUrlError] = useState<string | undefined>(undefined)
  const [secret, setSecret] = useState<{ url: string, secret: string } | undefined>(undefined)
  const form = useSubmit()
  const action = useSubmit()

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const bad = /^https:\/\/\S+$/.test(url.trim()) ? undefined : 'Enter an https:// address.'
    setUrlError(bad)
    if (bad !== undefined) return
    await form.run(async () => {
      const e = await api<WebhookEndpoint & { secret: string }>('/webhook-endpoints', { method: 'POST', body: { url: url.trim(), ...(description.trim() === '' ? {} : { description: description.trim() }) } })
      setSecret({ url: e.url, secret: e.secret })
      setUrl('')
      setDescription('')
      list.reload()
    })
  }

  function rotate (e: WebhookEndpoint): void {
    void action.run(async () => {
      const r = await api<{ secret: string }>(`/webhook-endpoints/${e.id}/rotate-secret`, { method: 'POST', body: {} })
      setSecret({ url: e.url, secret: r.secret })
    })
  }

  return (
    <>
      <PageTitle>Webhooks</PageTitle>
      <form onSubmit={(e) => { void submit(e) }} noValidate aria-labelledby='new-endpoint-title' class='panel'>
        <h2 id='new-endpoint-title'>New endpoint</h2>
        <FormError error={form.error} />
        <Field id='endpoint-url' label='URL' hint='https:// only' error={urlError ?? serverField(form.error, 'url')}>
          {(p) => <input {...p} type='url' value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}
        </Field>
        <Field id='endpoint-description' label='Description (optional)' error={serverField(form.error, 'description')}>
          {(p) => <input {...p} type='text' value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <button type='submit' disabled={form.busy}>Add endpoint</button>
      </form>
      {secret !== undefined && (
        <ShownOnce id='endpoint-secret' label='Signing secret' value={secret.secret}>The signing secret of {secret.url} is shown this once.</ShownOnce>
      )}
      <FormError error={action.error} />
      {list.data === undefined
        ? <Loading error={list.error} />
        : list.data.data.length === 0
          ? <p>No endpoints yet.</p>
          : (
            <div class='scroll'>
              <table>
                <thead><tr><th scope='col'>URL</th><th scope='col'>Description</th><th scope='col'>State</th><th scope='col'>Created</th><th scope='col'><span class='visually-hidden'>Actions</span></th></tr></thead>
                <tbody>
                  {list.data.data.map((e) => (
                    <tr key={e.id}>
                      <td>{e.url}</td>
                      <td>{e.description === '' ? '–' : e.description}</td>
                      <td>{e.status}</td>
                      <td>{when(e.createdAt)}</td>
                      <td class='buttons'>
                        <button type='button' class='secondary' onClick={() => { void action.run(async () => { await api(`/webhook-endpoints/${e.id}`, { method: 'PATCH', body: { enabled: e.status !== 'enabled' } }); list.reload() }) }}>{e.status === 'enabled' ? 'Pause' : 'Enable'} {e.url}</button>
                        <button type='button' class='secondary' onClick={() => rotate(e)}>Rotate secret of {e.url}</button>
                        <button type='button' class='danger' onClick={() => { void action.run(async () => { await api(`/webhook-endpoints/${e.id}`, { method: 'DELETE' }); list.reload() }) }}>Delete {e.url}</button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
    </>
  )
}
