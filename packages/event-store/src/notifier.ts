import type pg from 'pg'

interface Log {
  warn: (obj: object, msg: string) => void
}

/**
 * One LISTEN connection per process on the `es_events` channel, shared by every subscriber.
 * It only says "something new, up to position N": readers still read from the table, and poll
 * on an interval, so a lost notification or connection costs latency, never an event.
 */
export class Notifier {
  /** The highest position any notification announced (or the head when LISTEN began). */
  latest = 0
  /**
   * True while LISTEN is on and `latest` was seeded after it began: every position recorded
   * since is announced, so waiting for `latest` needs no query.
   */
  live = false
  private client: pg.Client | undefined
  private readonly waiters = new Set<() => void>()
  private closed = false
  private retryDelay = 100

  /** `head` reads the highest recorded position; it seeds `latest` once LISTEN is on. */
  constructor (private readonly connect: () => pg.Client, private readonly head: () => Promise<number>, private readonly log?: Log) {}

  async start (): Promise<void> {
    if (this.closed) return
    const client = this.connect()
    client.on('notification', (n) => {
      const position = Number(n.payload)
      if (position > this.latest) this.latest = position
      this.wake()
    })
    client.on('error', (error) => { this.reconnect(client, error) })
    client.on('end', () => { this.reconnect(client, new Error('connection ended')) })
    try {
      await client.connect()
      await client.query('LISTEN es_events')
      this.client = client
      // Commits from here on are announced; what was committed before is covered by the head.
      const head = await this.head()
      if (head > this.latest) this.latest = head
      this.live = this.client === client
      this.retryDelay = 100
      this.wake() // anything committed while we were away is found by the next read
    } catch (error) {
      this.reconnect(client, error)
    }
  }

  private reconnect (client: pg.Client, error: unknown): void {
    if (this.closed || (this.client !== client && this.client !== undefined)) return
    this.client = undefined
    this.live = false
    client.removeAllListeners()
    client.on('error', () => {})
    client.end().catch(() => {})
    this.log?.warn({ err: error, retryInMs: this.retryDelay }, 'event store LISTEN connection lost; polling until it is back')
    const delay = this.retryDelay
    this.retryDelay = Math.min(this.retryDelay * 2, 5000)
    setTimeout(() => { void this.start() }, delay + Math.random() * delay).unref()
  }

  private wake (): void {
    for (const w of [...this.waiters]) w()
  }

  /** Resolve on the next notification, after `timeoutMs`, or when `signal` aborts. */
  async wait (timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted === true) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.waiters.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  async close (): Promise<void> {
    this.closed = true
    this.live = false
    this.wake()
    const client = this.client
    this.client = undefined
    if (client !== undefined) {
      client.removeAllListeners()
      client.on('error', () => {})
      await client.end().catch(() => {})
    }
  }
}
