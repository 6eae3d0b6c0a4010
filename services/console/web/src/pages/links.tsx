import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { api, query, type Link, type LinkPage } from '../api.js'
import { formatMoney } from '../money.js'
import { may, useSession } from '../session.js'
import { Field, Loading, Notice, PageTitle, Status, messageOf, useLoad, when } from '../ui.js'

export const STATUSES = ['requested', 'issued', 'failed', 'authorized', 'paid', 'captured', 'partially_refunded', 'refunded', 'released', 'canceled', 'expired']

/** Links as a table: each reference goes to the link's page. */
export function LinkTable ({ links, caption }: { links: Link[], caption: string }): JSX.Element {
  if (links.length === 0) return <p>No links yet.</p>
  return (
    <div class='scroll'>
      <table>
        <caption class='visually-hidden'>{caption}</caption>
        <thead><tr><th scope='col'>Created</th><th scope='col'>Reference</th><th scope='col'>Customer</th><th scope='col'>Amount</th><th scope='col'>Status</th><th scope='col'>Opened</th></tr></thead>
        <tbody>
          {links.map((l) => (
            <tr key={l.id}>
              <td>{when(l.createdAt)}</td>
              <td><a href={`/console/links/${l.id}`}>{l.reference}</a></td>
              <td>{l.customerEmail ?? '–'}</td>
              <td class='num'>{formatMoney(l.amount.value, l.amount.currencyCode)}</td>
              <td><Status status={l.status} /></td>
              <td>{l.opened.count === 0 ? 'not yet' : `${l.opened.count}×`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

interface Filters { q: string, status: string, from: string, to: string }

function filtersFrom (url: string): Filters {
  const p = new URL(url, location.origin).searchParams
  return { q: p.get('q') ?? '', status: p.get('status') ?? '', from: p.get('from') ?? '', to: p.get('to') ?? '' }
}

/** `/console/links`: search by reference or customer e-mail, filter by status and dates, CSV. */
export function LinksPage (): JSX.Element {
  const { session } = useSession()
  const { url, route } = useLocation()
  const applied = filtersFrom(url)
  const [form, setForm] = useState<Filters>(applied)
  const qs = query({ ...applied })
  const first = useLoad(async () => await api<LinkPage>(`/links${qs}`), [qs])
  const [more, setMore] = useState<{ qs: string, links: Link[], cursor: string | null } | null>(null)
  const [moreError, setMoreError] = useState<string | undefined>(undefined)
  const extra = more !== null && more.qs === qs ? more : null
  const cursor = extra === null ? first.data?.nextCursor ?? null : extra.cursor

  function search (event: Event): void {
    event.preventDefault()
    route(`/console/links${query({ ...form })}`)
  }

  async function loadMore (): Promise<void> {
    if (cursor === null) return
    try {
      const page = await api<LinkPage>(`/links${query({ ...applied, cursor })}`)
      setMore({ qs, links: [...(extra?.links ?? []), ...page.data], cursor: page.nextCursor })
    } catch (e) {
      setMoreError(messageOf(e))
    }
  }

  const set = (k: keyof Filters) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setForm({ ...form, [k]: e.currentTarget.value })
  return (
    <>
      <PageTitle>Links</PageTitle>
      {may(session, 'staff') && <p><a class='button' href='/console/links/new'>New link</a></p>}
      <form class='filters' role='search' aria-label='Search links' onSubmit={search}>
        <Field id='q' label='Reference or customer e-mail'>
          {(p) => <input {...p} type='search' value={form.q} onInput={set('q')} />}
        </Field>
        <Field id='status' label='Status'>
          {(p) => (
            <select {...p} value={form.status} onChange={set('status')}>
              <option value=''>Any</option>
              {STATUSES.map((s) => <option key={s} value={s}>{s.replace('_', ' ')}</option>)}
            </select>
          )}
        </Field>
        <Field id='from' label='Created from'>
          {(p) => <input {...p} type='date' value={form.from} onInput={set('from')} />}
        </Field>
        <Field id='to' label='Created to'>
          {(p) => <input {...p} type='date' value={form.to} onInput={set('to')} />}
        </Field>
        <div class='actions'>
          <button type='submit'>Search</button>
          <a class='button secondary' href={`/console/api/links.csv${qs}`} download>Download CSV</a>
        </div>
      </form>
      {first.data === undefined
        ? <Loading error={first.error} />
        : (
          <>
            <p role='status'>{first.data.data.length + (extra?.links.length ?? 0)} links shown{cursor === null ? '' : ', more to load'}.</p>
            <LinkTable links={[...first.data.data, ...(extra?.links ?? [])]} caption='Links matching the search' />
            {cursor !== null && <button type='button' class='secondary' onClick={() => { void loadMore() }}>Load more</button>}
            {moreError !== undefined && <Notice error>{moreError}</Notice>}
          </>
          )}
    </>
  )
}
