import { render, type JSX } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { LocationProvider, Route, Router, useLocation } from 'preact-iso'
import { api, setCsrfToken, setSignedOutHandler, type Session } from './api.js'
import { may, SessionContext, useSession } from './session.js'
import { Notice, messageOf } from './ui.js'
import { InvitePage, LoginPage, ResetAskPage, ResetSetPage } from './pages/account.js'
import { DashboardPage } from './pages/dashboard.js'
import { LinksPage } from './pages/links.js'
import { NewLinkPage } from './pages/new-link.js'
import { LinkPage } from './pages/link.js'
import { StaffPage } from './pages/staff.js'
import { ApiKeysPage } from './pages/api-keys.js'
import { WebhooksPage } from './pages/webhooks.js'
import './style.css'

const publicPaths = ['/console/login', '/console/reset', '/console/invite/']

function isPublic (path: string): boolean {
  return publicPaths.some((p) => path === p || (p.endsWith('/') ? path.startsWith(p) : path.startsWith(`${p}/`)))
}

function Shell (): JSX.Element {
  const { session, setSession } = useSession()
  const { path, url, route } = useLocation()
  const signedIn = session.user !== null

  useEffect(() => {
    if (!signedIn && !isPublic(path)) route(`/console/login?next=${encodeURIComponent(url)}`, true)
  }, [signedIn, path])

  if (!signedIn && !isPublic(path)) return <p role='status'>Redirecting to sign-in…</p>

  async function signOut (): Promise<void> {
    await api('/session', { method: 'DELETE' }).catch(() => undefined)
    const fresh = await api<Session>('/session')
    setCsrfToken(fresh.csrfToken)
    setSession(fresh)
    route('/console/login', true)
  }

  const nav: Array<[string, string, boolean]> = [
    ['/console/', 'Dashboard', true],
    ['/console/links', 'Links', true],
    ['/console/links/new', 'New link', may(session, 'staff')],
    ['/console/staff', 'Staff', may(session, 'owner')],
    ['/console/api-keys', 'API keys', may(session, 'owner')],
    ['/console/webhooks', 'Webhooks', may(session, 'owner')]
  ]
  return (
    <>
      <a class='skip' href='#main'>Skip to content</a>
      <header class='top'>
        <p class='brand'>{session.merchant?.tradingName ?? 'Merchant console'}</p>
        {signedIn && (
          <>
            <nav aria-label='Console'>
              <ul>
                {nav.filter(([, , shown]) => shown).map(([href, label]) => (
                  <li key={href}><a href={href} aria-current={path === href ? 'page' : undefined}>{label}</a></li>
                ))}
              </ul>
            </nav>
            <p class='who'>
              <span>{session.user?.name} ({session.user?.role})</span>
              <button type='button' class='secondary' onClick={() => { void signOut() }}>Sign out</button>
            </p>
          </>
        )}
      </header>
      <main id='main'>
        <Router>
          <Route path='/console/login' component={LoginPage} />
          <Route path='/console/reset' component={ResetAskPage} />
          <Route path='/console/reset/:token' component={ResetSetPage} />
          <Route path='/console/invite/:token' component={InvitePage} />
          <Route path='/console/' component={DashboardPage} />
          <Route path='/console/links' component={LinksPage} />
          <Route path='/console/links/new' component={NewLinkPage} />
          <Route path='/console/links/:id' component={LinkPage} />
          <Route path='/console/staff' component={StaffPage} />
          <Route path='/console/api-keys' component={ApiKeysPage} />
          <Route path='/console/webhooks' component={WebhooksPage} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </>
  )
}

function NotFound (): JSX.Element {
  return <><h1>Page not found</h1><p><a href='/console/'>Go to the dashboard</a></p></>
}

function App (): JSX.Element {
  const [session, setSession] = useState<Session | null>(null)
  const [error, setError] = useState<unknown>(undefined)

  useEffect(() => {
    const load = (): void => {
      api<Session>('/session').then((s) => { setCsrfToken(s.csrfToken); setSession(s) }, setError)
    }
    // The server ended the session (signed out elsewhere, password reset): start over at sign-in.
    setSignedOutHandler(load)
    load()
  }, [])

  if (session === null) return error === undefined ? <p role='status'>Loading…</p> : <main><h1>Merchant console</h1><Notice error>{messageOf(error)}</Notice></main>
  return (
    <SessionContext.Provider value={{ session, setSession: (s) => { setCsrfToken(s.csrfToken); setSession(s) } }}>
      <LocationProvider>
        <Shell />
      </LocationProvider>
    </SessionContext.Provider>
  )
}

render(<App />, document.getElementById('app')!)
