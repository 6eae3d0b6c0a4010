import type { JSX } from 'preact'
import { Notice, PageTitle } from '../ui.js'
import { may, useSession } from '../session.js'

/** Pages only an owner may open: others see why, and the server refuses them anyway. */
export function OwnerOnly ({ title, children }: { title: string, children: () => JSX.Element }): JSX.Element {
  const { session } = useSession()
  if (!may(session, 'owner')) return <><PageTitle>{title}</PageTitle><Notice>Only an owner of the account can manage this.</Notice></>
  return children()
}
