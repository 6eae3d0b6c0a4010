// The console server's JSON API (services/console, /console/api): every call goes through
// `api`, which sends the session's CSRF token on writes and turns problem bodies into ApiError.

export type Role = 'owner' | 'staff' | 'viewer'
export interface User { id: string, email: string, name: string, role: Role }
export interface Session { user: User | null, merchant: { id: string, tradingName: string } | null, csrfToken: string }
export interface Money { value: number, currencyCode: string }
export interface Link {
  id: string
  reference: string
  status: string
  amount: Money
  description?: string
  customerEmail?: string
  shortUrl: string
  url: string
  createdAt: string
  expiresAt: string
  opened: { firstAt: string | null, count: number }
}
export interface LinkPage { data: Link[], nextCursor: string | null }
export interface TimelineEntry { type: string, occurredAt: string, position: number, data: Record<string, unknown> }
export interface FieldError { field: string, message: string }
export interface Dashboard {
  days: number
  totals: { issued: number, paid: number, conversionRate: number | null, captured: Array<{ currency: string, amount: number }>, refunded: Array<{ currency: string, amount: number }> }
  daily: Array<{ day: string, issued: number, paid: number }>
  funnel: { requested: number, issued: number, sent: number, opened: number, paid: number }
  timeToPaySeconds: { median: number | null, p90: number | null }
  latest: Array<{ linkId: string, reference: string, status: string, amount: Money, createdAt: string }>
}
export interface StaffList {
  users: Array<{ id: string, email: string, name: string, role: Role, createdAt: string }>
  invites: Array<{ id: string, email: string, role: Role, expiresAt: string }>
}
export interface ApiKey { id: string, label: string, createdAt: string, lastUsedAt: string | null, revokedAt: string | null }
export interface WebhookEndpoint { id: string, url: string, description: string, eventTypes: string[], status: 'enabled' | 'disabled', createdAt: string }

/** A problem+json answer (or a failed request), with the server's field errors when it sent any. */
export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string | undefined, message: string, readonly errors: FieldError[] = []) {
    super(message)
  }

  /** The message for one form field, from the server's `errors[]`. */
  fieldMessage (field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message
  }
}

const base = '/console/api'
let csrfToken = ''
let onSignedOut: () => void = () => {}

/** Remember the token the session handed out; every write sends it as x-csrf-token. */
export function setCsrfToken (token: string): void { csrfToken = token }
/** What to do when the server says the session is gone (401 CONSOLE_SIGNED_OUT). */
export function setSignedOutHandler (handler: () => void): void { onSignedOut = handler }

interface Options { method?: string, body?: unknown, signedOutIsError?: boolean }

/** Call the console API; JSON in and out, 204/202 without a body give undefined. */
export async function api<T> (path: string, options: Options = {}): Promise<T> {
  try {
    return await send<T>(path, options)
  } catch (error) {
    // The token is the session's: after the session ended or was replaced (sign-out in another
    // tab, expiry) the page's copy is stale. Fetch the current one and try once more.
    if (!(error instanceof ApiError) || error.code !== 'CONSOLE_CSRF') throw error
    setCsrfToken((await send<Session>('/session', { signedOutIsError: true })).csrfToken)
    return await send<T>(path, options)
  }
}

async function send<T> (path: string, { method = 'GET', body, signedOutIsError = false }: Options): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(base + path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  } catch {
    throw new ApiError(0, undefined, 'The console server could not be reached. Check the connection and try again.')
  }
  const text = await res.text()
  const parsed: unknown = text === '' ? undefined : safeJson(text)
  if (!res.ok) {
    const p = (parsed ?? {}) as { code?: string, detail?: string, title?: string, errors?: FieldError[] }
    if (res.status === 401 && p.code === 'CONSOLE_SIGNED_OUT' && !signedOutIsError) onSignedOut()
    const retry = res.headers.get('retry-after')
    const message = (p.detail ?? p.title ?? `The server answered ${res.status}.`) + (res.status === 429 && retry !== null ? ` Try again in ${retry} s.` : '')
    throw new ApiError(res.status, p.code, message, Array.isArray(p.errors) ? p.errors : [])
  }
  return parsed as T
}

function safeJson (text: string): unknown {
  try { return JSON.parse(text) } catch { return undefined }
}

/** The query string for a filter object, leaving out empty values. */
export function query (params: Record<string, string | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v)
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/** One link as link-issuer's partner API shows it (`GET /console/api/links/{id}`). */
export interface LinkDetail {
  id: string
  reference: string
  status: string
  url: string | null
  shortUrl: string | null
  amount: Money
  description?: string
  customer?: { id: string, email?: string, name?: string, erased?: true }
  expiresAt: string
  email: { requested: boolean, sentAt: string | null, reminders: number, lastReminderAt: string | null }
  opened: { firstAt: string | null, count: number }
  capturedAmount: number
  refundedAmount: number
  createdAt?: string
}
