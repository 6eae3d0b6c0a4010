import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { api, type Link } from '../api.js'
import { looksLikeEmail, minorDigits, toMinorUnits } from '../money.js'
import { may, useSession } from '../session.js'
import { Field, FormError, Notice, PageTitle, serverField, useSubmit } from '../ui.js'

export const CURRENCIES = ['GBP', 'EUR', 'USD']

/** `/console/links/new`: one form for a link, optionally e-mailed to the customer. */
export function NewLinkPage (): JSX.Element {
  const { session } = useSession()
  const { route } = useLocation()
  const [amount, setAmount] = useState('')
  const [currency, setCurrency] = useState('GBP')
  const [description, setDescription] = useState('')
  const [email, setEmail] = useState('')
  const [sendEmail, setSendEmail] = useState(false)
  const [expires, setExpires] = useState('')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const form = useSubmit()

  if (!may(session, 'staff')) {
    return <><PageTitle>New link</PageTitle><Notice>Your role ({session.user?.role}) can look at links but not create them. An owner can change your role.</Notice></>
  }

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const value = toMinorUnits(amount, currency)
    const found: Record<string, string> = {}
    const digits = minorDigits(currency)
    if (value === null || value < 1) found['amount.value'] = digits === 0 ? 'Enter a whole amount of at least 1, like 1200.' : `Enter an amount of at least ${(1 / 10 ** digits).toFixed(digits)}, like 12.50.`
    if (email.trim() !== '' && !looksLikeEmail(email)) found.customerEmail = 'Enter the customer’s e-mail address, like name@example.com.'
    if (sendEmail && email.trim() === '') found.customerEmail = 'Enter the customer’s e-mail address to send them the link.'
    if (expires !== '' && new Date(expires).getTime() <= Date.now()) found.expiresAt = 'Choose a time in the future.'
    setErrors(found)
    if (Object.keys(found).length > 0 || value === null) return
    await form.run(async () => {
      const link = await api<Link>('/links', {
        method: 'POST',
        body: {
          amount: { value, currencyCode: currency },
          ...(description.trim() === '' ? {} : { description: description.trim() }),
          ...(email.trim() === '' ? {} : { customerEmail: email.trim() }),
          ...(expires === '' ? {} : { expiresAt: new Date(expires).toISOString() }),
          sendEmail
        }
      })
      route(`/console/links/${link.id}`)
    })
  }

  const err = (field: string): string | undefined => errors[field] ?? serverField(form.error, field)
  return (
    <section class='narrow'>
      <PageTitle>New link</PageTitle>
      <form onSubmit={(e) => { void submit(e) }} noValidate>
        <FormError error={form.error} />
        <div class='row'>
          <Field id='amount' label='Amount' hint='Like 12.50' error={err('amount.value')}>
            {(p) => <input {...p} type='text' inputMode='decimal' autocomplete='off' value={amount} onInput={(e) => setAmount(e.currentTarget.value)} required />}
          </Field>
          <Field id='currency' label='Currency' error={err('amount.currencyCode')}>
            {(p) => <select {...p} value={currency} onChange={(e) => setCurrency(e.currentTarget.value)}>{CURRENCIES.map((c) => <option key={c}>{c}</option>)}</select>}
          </Field>
        </div>
        <Field id='description' label='Description (optional)' hint='The customer sees it on the checkout page.' error={err('description')}>
          {(p) => <textarea {...p} rows={2} maxLength={4096} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <Field id='customer-email' label='Customer e-mail (optional)' error={err('customerEmail')}>
          {(p) => <input {...p} type='email' autocomplete='off' value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <div class='field check'>
          <input id='send-email' type='checkbox' checked={sendEmail} onChange={(e) => setSendEmail(e.currentTarget.checked)} />
          <label for='send-email'>E-mail the link to the customer</label>
        </div>
        <Field id='expires' label='Expires (optional)' hint='Unset: the merchant’s default.' error={err('expiresAt')}>
          {(p) => <input {...p} type='datetime-local' value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />}
        </Field>
        <button type='submit' disabled={form.busy}>Create link</button>
      </form>
    </section>
  )
}
