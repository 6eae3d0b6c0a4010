export interface UntilOptions {
  /** Give up after this long. Default 20 s. */
  timeoutMs?: number
  /** Probe this often. Default 25 ms. */
  intervalMs?: number
  /** Named in the error when it times out. */
  what?: string
}

/**
 * Probe until it gives a value other than undefined or false, and return that value; throw
 * after the timeout. Tests wait for a state, never for a time. `options` may be just the timeout.
 */
export async function until<T> (probe: () => T | undefined | false | Promise<T | undefined | false>, options: UntilOptions | number = {}, what?: string): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 25, what: name = what ?? 'condition' } = typeof options === 'number' ? { timeoutMs: options } : options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`${name} not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
