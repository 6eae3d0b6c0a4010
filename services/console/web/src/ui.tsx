import type { ComponentChildren, JSX } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api.js'

/** The page's heading; focused when the page opens, so a screen reader announces where it is. */
export function PageTitle ({ children }: { children: ComponentChildren }): JSX.Element {
  const ref = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    ref.current?.focus()
    document.title = `${ref.current?.textContent ?? ''} · Merchant console`
  }, [])
  return <h1 ref={ref} tabIndex={-1}>{children}</h1>
}

interface FieldProps {
  id: string
  label: string
  error?: string | undefined
  hint?: string
  children: (props: { id: string, 'aria-invalid': boolean, 'aria-describedby'?: string }) => JSX.Element
}

/** A labelled control with its hint and its error (the client's or the server's) beside it. */
export function Field ({ id, label, error, hint, children }: FieldProps): JSX.Element {
  const described = [hint === undefined ? '' : `${id}-hint`, error === undefined ? '' : `${id}-error`].filter((x) => x !== '').join(' ')
  return (
    <div class='field'>
      <label for={id}>{label}</label>
      {hint !== undefined && <p class='hint' id={`${id}-hint`}>{hint}</p>}
      {children({ id, 'aria-invalid': error !== undefined, ...(described === '' ? {} : { 'aria-describedby': described }) })}
      {error !== undefined && <p class='error' id={`${id}-error`}>{error}</p>}
    </div>
  )
}

/** A message for the whole form or page: errors are alerts, the rest polite status. */
export function Notice ({ error, children }: { error?: boolean, children: ComponentChildren }): JSX.Element {
  return error === true
    ? <p class='notice error' role='alert'>{children}</p>
    : <p class='notice' role='status'>{children}</p>
}

/** The text of whatever an action threw. */
export function messageOf (error: unknown): string {
  return error instanceof Error ? error.message : 'Something went wrong.'
}

/** Load something for a page; `reload` fetches it again. */
export function useLoad<T> (load: () => Promise<T>, deps: unknown[]): { data: T | undefined, error: unknown, reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined, error: unknown }>({ data: undefined, error: undefined })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    load().then((data) => { if (live) setState({ data, error: undefined }) }, (error: unknown) => { if (live) setState((s) => ({ data: s.data, error })) })
    return () => { live = false }
  }, [...deps, tick])
  return { ...state, reload: () => setTick((n) => n + 1) }
}

/** What a page shows while its data loads, or why it could not. */
export function Loading ({ error }: { error: unknown }): JSX.Element {
  if (error === undefined) return <p role='status'>Loading…</p>
  if (error instanceof ApiError && error.status === 401) return <p role='status'>Signed out.</p>
  return <Notice error>{messageOf(error)}</Notice>
}

export interface Submit {
  busy: boolean
  error: ApiError | Error | undefined
  run: (action: () => Promise<void>) => Promise<void>
  /**
   * Run the client's checks (field -> message, undefined when fine); only when all pass, the
   * action. The messages stay beside their fields until the next submit.
   */
  submit: (event: Event, checks: Record<string, string | undefined>, action: () => Promise<void>) => Promise<void>
  /** A field's message: the client's check, else the server's `errors[]`. */
  fieldError: (field: string) => string | undefined
}

/** A form's busy flag, its client checks and its top-level error around one async submit. */
export function useSubmit (): Submit {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<ApiError | Error | undefined>(undefined)
  const [invalid, setInvalid] = useState<Record<string, string>>({})
  async function run (action: () => Promise<void>): Promise<void> {
    setBusy(true)
    setError(undefined)
    try {
      await action()
    } catch (e) {
      setError(e instanceof Error ? e : new Error(messageOf(e)))
    } finally {
      setBusy(false)
    }
  }
  async function submit (event: Event, checks: Record<string, string | undefined>, action: () => Promise<void>): Promise<void> {
    event.preventDefault()
    const found = Object.fromEntries(Object.entries(checks).filter((c): c is [string, string] => c[1] !== undefined))
    setInvalid(found)
    if (Object.keys(found).length === 0) await run(action)
  }
  return { busy, error, run, submit, fieldError: (field) => invalid[field] ?? serverField(error, field) }
}

/** A field's message from the server's errors[], when the last submit failed with them. */
export function serverField (error: Error | undefined, field: string): string | undefined {
  return error instanceof ApiError ? error.fieldMessage(field) : undefined
}

/** The form-level message: the problem's detail when no field took it. */
export function FormError ({ error }: { error: Error | undefined }): JSX.Element | null {
  if (error === undefined) return null
  if (error instanceof ApiError && error.errors.length > 0) return <Notice error>Check the fields marked below.</Notice>
  return <Notice error>{error.message}</Notice>
}

/** A date-time as the browser's locale writes it. */
export function when (iso: string | null | undefined): string {
  return iso === null || iso === undefined ? '–' : new Date(iso).toLocaleString()
}

/** A link's status as a badge (text, not only colour). */
export function Status ({ status }: { status: string }): JSX.Element {
  return <span class={`status status-${status}`}>{status.replace('_', ' ')}</span>
}

/** A secret the server shows once (a new API key, a webhook signing secret), ready to select and copy. */
export function ShownOnce ({ id, label, value, children }: { id: string, label: string, value: string, children: ComponentChildren }): JSX.Element {
  return (
    <div class='panel' role='status'>
      <p>{children}</p>
      <label for={id}>{label}</label>
      <input id={id} type='text' readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
    </div>
  )
}
