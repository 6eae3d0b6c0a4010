import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { Role, Session } from './api.js'

export interface SessionState {
  session: Session
  /** Replace the session (after sign-in, invite acceptance, sign-out). */
  setSession: (s: Session) => void
}

export const SessionContext = createContext<SessionState | null>(null)

/** The signed-in session; pages under the shell only render once it is known. */
export function useSession (): SessionState {
  const s = useContext(SessionContext)
  if (s === null) throw new Error('useSession outside the session provider')
  return s
}

const rank: Record<Role, number> = { viewer: 0, staff: 1, owner: 2 }

/** True when the signed-in user's role is at least `role` (viewer < staff < owner). */
export function may (session: Session, role: Role): boolean {
  return session.user !== null && rank[session.user.role] >= rank[role]
}
