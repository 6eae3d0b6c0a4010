import { randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from '@paylinks/event-store'

/**
 * The advisory-lock class of link-issuer's instances (two-key form, so it never meets the
 * one-bigint locks of the store's subscribers). Key 0 is the sweep leader; keys ≥ 1 are instances.
 */
export const INSTANCE_LOCK_CLASS = 1_818_849_281
const SWEEP_LEADER_KEY = 0

export interface InstanceLock {
  /** This process's key in INSTANCE_LOCK_CLASS, held while its session lives (recorded with its leases). */
  readonly key: number
  /**
   * True while this instance holds the sweep leader lock (trying to take it when free): the one
   * replica that runs the sweeps. Lost with the session; another replica takes it at its next try.
   */
  lead: () => Promise<boolean>
  close: () => Promise<void>
}

interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
}

/**
 * A session of this process's own on Postgres that holds its instance lock. Postgres ends the
 * session when the process dies (a SIGKILL closes its sockets), so others see at once that its
 * issue leases are free, instead of waiting for them to expire. The session reconnects after a
 * failure (jittered back-off up to 5 s) under a new key: the leases of the lost session look free
 * to others and their holders are fenced, which is the safe side.
 */
export async function startInstanceLock (options: { connectionString: string, log: Log }): Promise<InstanceLock> {
  const { log } = options
  let key = 0
  let client: ReturnType<typeof createClient> | undefined
  let leading = false
  let closed = false
  let connecting: Promise<void> | undefined

  async function connect (): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      const next = createClient({ connectionString: options.connectionString, applicationName: 'link-issuer instance' })
      next.on('error', (error) => {
        if (client !== next) return
        client = undefined
        leading = false
        log.warn({ err: error }, 'instance lock session lost; reconnecting')
        void reconnect()
      })
      try {
        await next.connect()
        for (;;) {
          // A new key on every session: the leases taken under a lost session are free to others
          // from the moment it ended (their holders are fenced), even though we are back.
          key = randomInt(1, 2 ** 31 - 1)
          const { rows } = await next.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [INSTANCE_LOCK_CLASS, key])
          if (rows[0]?.locked === true) break
        }
        client = next
        return
      } catch (error) {
        await next.end().catch(() => {})
        const delay = Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random())
        log.warn({ err: error, retryInMs: Math.round(delay) }, 'instance lock not taken; retrying')
        await sleep(delay)
      }
    }
  }

  async function reconnect (): Promise<void> {
    connecting ??= connect().finally(() => { connecting = undefined })
    await connecting
  }

  await reconnect()
  return {
    get key () { return key },
    async lead () {
      const session = client
      if (session === undefined) return false
      if (leading) return true
      try {
        const { rows } = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [INSTANCE_LOCK_CLASS, SWEEP_LEADER_KEY])
        leading = rows[0]?.locked === true && client === session
        if (leading) log.info({ key }, 'leading the sweeps')
      } catch {
        leading = false
      }
      return leading
    },
    async close () {
      closed = true
      const session = client
      client = undefined
      leading = false
      await session?.end().catch(() => {})
    }
  }
}
