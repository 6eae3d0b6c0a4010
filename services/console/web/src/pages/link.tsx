import type { JSX } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { useRoute } from 'preact-iso'
import { api, type LinkDetail, type TimelineEntry } from '../api.js'
import { formatMoney, looksLikeEmail, toMinorUnits } from '../money.js'
import { may, useSession } from '../session.js'
import { Field, FormError, Loading, Notice, PageTitle, Status, serverField, useLoad, useSubmit, when } from '../ui.js'

const OPEN = new Set(['requested', 'issued'])
const REFUNDABLE = new Set(['paid', 'captured', 'partially_refunded'])

/** `/console/links/<id>`: the link, its QR code, what staff can do with it, and its timeline. */
export function LinkPage (): JSX.Element {
  const { params } = useRoute()
  const id = encodeURIComponent(params.id ?? '')
  const link = useLoad(async () => await api<LinkDetail>(`/links/${id}`), [id])
  const timeline = useLoad(async () => await api<{ data: TimelineEntry[] }>(`/links/${id}/timeline`), [id])
  // Opened and paid arrive as the customer acts: follow them while the page is open.
  useEffect(() => {
    const timer = setInterval(() => { link.reload(); timeline.reload() }, 3000)
    return () => clearInterval(timer)
  }, [id])
  const l = link.data
  if (l === undefined) return <><PageTitle>Link</PageTitle><Loading error={link.error} /></>
  const reload = (): void => { link.reload(); timeline.reload() }
  return (
    <>
      <PageTitle>Link {l.reference}</PageTitle>
      <div class='link-head'>
        <dl class='facts'>
          <dt>Status</dt><dd id='link-status'><Status status={l.status} /></dd>
          <dt>Amount</dt><dd>{formatMoney(l.amount.value, l.amount.currencyCode)}</dd>
          {l.refundedAmount > 0 && <><dt>Refunded</dt><dd>{formatMoney(l.refundedAmount, l.amount.currencyCode)}</dd></>}
          {l.description !== undefined && <><dt>Description</dt><dd>{l.description}</dd></>}
          <dt>Customer</dt><dd>{l.customer?.erased === true ? 'erased' : l.customer?.email ?? '–'}</dd>
          <dt>Expires</dt><dd>{when(l.expiresAt)}</dd>
          <dt>Opened</dt><dd id='link-opened'>{l.opened.count === 0 ? 'Not yet' : `${l.opened.count}× (first ${when(l.opened.firstAt)})`}</dd>
          <dt>E-mail</dt><dd>{l.email.sentAt === null ? (l.email.requested ? 'Sending…' : 'Not sent') : `Sent ${when(l.email.sentAt)}`}</dd>
        </dl>
        {l.shortUrl !== null && <img class='qr' src={`/console/api/links/${id}/qr`} width={180} height={180} alt={`QR code of the link ${l.shortUrl}`} />}
      </div>
      {l.shortUrl !== null && <ShortUrl url={l.shortUrl} />}
      <Actions link={l} onChange={reload} />
      <section aria-labelledby='timeline-title'>
        <h2 id='timeline-title'>Timeline</h2>
        {timeline.data === undefined
          ? <Loading error={timeline.error} />
          : (
            <ol class='timeline'>
              {timeline.data.data.map((e) => <li key={e.position}><time dateTime={e.occurredAt}>{when(e.occurredAt)}</time> <span>{e.type}</span></li>)}
            </ol>
            )}
      </section>
    </>
  )
}

function ShortUrl ({ url }: { url: string }): JSX.Element {
  const [copied, setCopied] = useState<string | undefined>(undefined)
  async function copy (): Promise<void> {
    try {
      await navigator.clipboard.writeText(url)
      setCopied('Copied.')
    } catch {
      setCopied('The browser did not allow copying: select the address and copy it.')
    }
  }
  return (
    <div class='field'>
      <label for='short-url'>Link for the customer</label>
      <div class='row'>
        <input id='short-url' type='text' readOnly value={url} onFocus={(e) => e.currentTarget.select()} />
        <button type='button' class='secondary' onClick={() => { void copy() }}>Copy</button>
      </div>
      <p role='status' class='hint'>{copied}</p>
    </div>
  )
}

function Actions ({ link, onChange }: { link: LinkDetail, onChange: () => void }): JSX.Element | null {
  const { session } = useSession()
  if (!may(session, 'staff')) return null
  const open = OPEN.has(link.status)
  return (
    <section aria-labelledby='actions-title' class='actions-panel'>
      <h2 id='actions-title'>Actions</h2>
      {open && <EmailForm link={link} onChange={onChange} />}
      {open && <CancelButton link={link} onChange={onChange} />}
      {REFUNDABLE.has(link.status) && <RefundForm link={link} onChange={onChange} />}
      {!open && !REFUNDABLE.has(link.status) && <p>Nothing more can be done with a link that is {link.status.replace('_', ' ')}.</p>}
    </section>
  )
}

function EmailForm ({ link, onChange }: { link: LinkDetail, onChange: () => void }): JSX.Element {
  const [email, setEmail] = useState(link.customer?.email ?? '')
  const [error, setError] = useState<string | undefined>(undefined)
  const [sent, setSent] = useState(false)
  const form = useSubmit()
  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const bad = looksLikeEmail(email) ? undefined : 'Enter the customer’s e-mail address, like name@example.com.'
    setError(bad)
    if (bad !== undefined) return
    await form.run(async () => {
      await api(`/links/${encodeURIComponent(link.id)}/email`, { method: 'POST', body: { email: email.trim() } })
      setSent(true)
      onChange()
    })
  }
  return (
    <form onSubmit={(e) => { void submit(e) }} noValidate aria-label='E-mail the link'>
      <FormError error={form.error} />
      <Field id='email-to' label='E-mail the link to' error={error ?? serverField(form.error, 'email')}>
        {(p) => <input {...p} type='email' value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
      </Field>
      <button type='submit' disabled={form.busy}>{link.email.sentAt === null ? 'Send e-mail' : 'Resend e-mail'}</button>
      {sent && <Notice>The e-mail is on its way.</Notice>}
    </form>
  )
}

function CancelButton ({ link, onChange }: { link: LinkDetail, onChange: () => void }): JSX.Element {
  const [asking, setAsking] = useState(false)
  const form = useSubmit()
  async function cancel (): Promise<void> {
    await form.run(async () => {
      await api(`/links/${encodeURIComponent(link.id)}/cancel`, { method: 'POST' })
      setAsking(false)
      onChange()
    })
  }
  return (
    <div class='confirm'>
      <FormError error={form.error} />
      {asking
        ? (
          <p>
            The customer will no longer be able to pay this link.{' '}
            <button type='button' class='danger' disabled={form.busy} onClick={() => { void cancel() }}>Yes, cancel the link</button>{' '}
            <button type='button' class='secondary' onClick={() => setAsking(false)}>Keep it</button>
          </p>
          )
        : <button type='button' class='danger' onClick={() => setAsking(true)}>Cancel link</button>}
    </div>
  )
}

function RefundForm ({ link, onChange }: { link: LinkDetail, onChange: () => void }): JSX.Element {
  const currency = link.amount.currencyCode
  const left = Math.max(0, link.capturedAmount - link.refundedAmount)
  const [amount, setAmount] = useState('')
  const [reason, setReason] = useState('')
  const [error, setError] = useState<string | undefined>(undefined)
  const [done, setDone] = useState(false)
  const form = useSubmit()
  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const value = toMinorUnits(amount, currency)
    const bad = value === null || value < 1 ? 'Enter an amount like 5.00.' : value > left ? `Enter at most ${formatMoney(left, currency)}.` : undefined
    setError(bad)
    if (bad !== undefined || value === null) return
    await form.run(async () => {
      await api(`/links/${encodeURIComponent(link.id)}/refunds`, { method: 'POST', body: { amount: { value, currencyCode: currency }, ...(reason.trim() === '' ? {} : { reason: reason.trim() }) } })
      setDone(true)
      setAmount('')
      onChange()
    })
  }
  return (
    <form onSubmit={(e) => { void submit(e) }} noValidate aria-label='Refund'>
      <FormError error={form.error} />
      <Field id='refund-amount' label={`Refund amount (${currency})`} hint={`Up to ${formatMoney(left, currency)}`} error={error ?? serverField(form.error, 'amount.value')}>
        {(p) => <input {...p} type='text' inputMode='decimal' value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />}
      </Field>
      <Field id='refund-reason' label='Reason (optional)' error={serverField(form.error, 'reason')}>
        {(p) => <input {...p} type='text' value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
      </Field>
      <button type='submit' disabled={form.busy}>Refund</button>
      {done && <Notice>Refund asked for; the status follows when Dojo confirms it.</Notice>}
    </form>
  )
}
