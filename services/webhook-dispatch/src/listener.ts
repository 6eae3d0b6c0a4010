import { createClient } from '@paylinks/event-store'
import type pg from 'pg'

/**
 * LISTEN on one channel with a connection of its own, calling `onNotify` for each notification;
 * reconnects with back-off. Workers also poll, so a lost notification costs latency only.
 */
export function listen (connectionString: string, channel: string, onNotify: () => void, log: { warn: (o: object, m: string) => void }): { close: () => Promise<void> } {
  let client: pg.Client | undefined
  let closed = false
  let delay = 100
  let timer: NodeJS.Timeout | undefined

  function again (from: pg.Client, error: Error): void {
    if (closed || client !== from) return
    client = undefined
    from.removeAllListeners()
    void from.end().catch(() => {})
    log.warn({ err: error, retryInMs: delay }, `LISTEN ${channel} lost; reconnecting`)
    timer = setTimeout(() => { void start() }, delay)
    delay = Math.min(delay * 2, 10_000)
  }

  async function start (): Promise<void> {
    if (closed) return
    const c = createClient({ connectionString, applicationName: 'webhook-dispatch-listen' })
    client = c
    c.on('notification', () => { onNotify() })
    c.on('error', (error) => { again(c, error) })
    c.on('end', () => { again(c, new Error('connection ended')) })
    try {
      await c.connect()
      await c.query(`LISTEN ${channel}`)
      delay = 100
      onNotify()
    } catch (error) {
      again(c, error as Error)
    }
  }
  void start()
  return {
    async close () {
      closed = true
      clearTimeout(timer)
      const c = client
      client = undefined
      c?.removeAllListeners()
      await c?.end().catch(() => {})
    }
  }
}
