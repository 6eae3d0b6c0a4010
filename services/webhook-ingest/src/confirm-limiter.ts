import { monitorEventLoopDelay } from 'node:perf_hooks'

/** What one window of deliveries showed the controller. */
export interface LimiterWindow {
  /** Deliveries answered in the window. */
  deliveries: number
  /** How slow the endpoint was: the deliveries' 95th percentile, or the loop's delay if worse (ms). */
  slowMs: number
  /** The limit held the confirmer back in the window (it wanted more than the limit gave). */
  bound: boolean
}

export interface LimiterRule {
  /** The endpoint's answer time (ms) the confirmer keeps under by slowing down; 0: never slow down. */
  targetMs: number
  /** Confirmations per second never throttled below, so a backlog drains under any load. */
  minRate: number
}

/**
 * The controller (additive increase, multiplicative decrease, as TCP and concurrency limiters do):
 * a slow window halves the rate, a good one in which the limit held the confirmer back adds
 * `minRate`, and a good one in which the confirmer did not use its rate leaves it, so a rate that
 * was never tried does not grow without bound and take seconds of halvings to bite. A window
 * without deliveries changes nothing (there was nothing to protect). Never below `minRate`.
 */
export function nextRate (rate: number, window: LimiterWindow, rule: LimiterRule): number {
  if (window.deliveries === 0) return rate
  if (window.slowMs > rule.targetMs) return Math.max(rule.minRate, rate / 2)
  if (window.bound) return rate + rule.minRate
  return Math.max(rule.minRate, rate)
}

export interface ConfirmLimiter {
  /** A delivery was answered `ms` after it arrived. */
  delivery: (ms: number) => void
  /**
   * Confirmations that may start now, up to `wanted`, and taken: `wanted` while no deliveries
   * arrive, otherwise 0 until the rate allows a batch (what 50 ms of it allows, at least one).
   */
  take: (wanted: number) => number
  /** Return confirmations taken but not started (the queue held fewer). */
  giveBack: (count: number) => void
  /** How long until `take` can give something (ms, at least 1). */
  waitMs: () => number
  /** True while deliveries arrive, so the rate applies. */
  limiting: () => boolean
  /** The current rate, confirmations per second (applies only while `limiting`). */
  rate: () => number
  /** Close the current window and decide (runs every `windowMs`; tests call it directly). */
  tick: () => void
  close: () => void
}

export interface ConfirmLimiterOptions extends LimiterRule {
  /** Default 100 ms. */
  windowMs?: number
  /** The event loop's worst delay (ms) since the previous call; default this process's. */
  loopDelayMs?: () => number
  /** Default `performance.now`. */
  now?: () => number
}

function processLoopDelay (): () => number {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  return () => {
    // The 99th percentile, not the max: one long GC pause is not a trend worth halving for. A
    // sample is the whole interval between the monitor's timers: the delay is what exceeds it.
    const ms = histogram.count === 0 ? 0 : Math.max(0, histogram.percentile(99) / 1e6 - 10)
    histogram.reset()
    return ms
  }
}

/**
 * Deliveries first, measured where it matters: Dojo retries a delivery that is not answered
 * quickly, while the confirmations deliveries queue are durable and can wait. The confirmer's
 * work (Dojo reads, publishes, the recorder and Postgres behind them) shares the machine with the
 * endpoint, and this process's own event loop can look idle while the box is saturated by the
 * processes behind it, so the signal is the endpoint's answer time itself (and the loop's delay,
 * which it cannot see: a request waits in the socket while the loop is blocked). While deliveries
 * arrive, confirmations run at a rate `nextRate` adjusts every window; once they stop, at full
 * concurrency. A backlog never starves: the rate never drops below `minRate`.
 */
export function createConfirmLimiter (options: ConfirmLimiterOptions): ConfirmLimiter {
  const windowMs = options.windowMs ?? 100
  const now = options.now ?? (() => performance.now())
  const off = options.targetMs <= 0
  const loopDelay = off ? () => 0 : options.loopDelayMs ?? processLoopDelay()
  let latencies: number[] = []
  let rate = options.minRate * 4
  let limiting = false
  let bound = false
  let tokens = 0
  let filledAt = now()

  const batch = (): number => Math.max(1, Math.floor(rate * 0.05))
  const fill = (): void => {
    const at = now()
    tokens = Math.min(batch(), tokens + (at - filledAt) * rate / 1000)
    filledAt = at
  }
  const tick = (): void => {
    const deliveries = latencies.length
    latencies.sort((a, b) => a - b)
    const p95 = latencies[Math.ceil(deliveries * 0.95) - 1] ?? 0
    const slowMs = Math.max(p95, loopDelay())
    fill()
    rate = nextRate(rate, { deliveries, slowMs, bound }, options)
    if (!limiting && deliveries > 0) tokens = 0
    limiting = deliveries > 0 && !off
    bound = false
    latencies = []
  }
  const timer = setInterval(tick, windowMs).unref()
  return {
    delivery: (ms) => { if (!off) latencies.push(ms) },
    take (wanted) {
      if (!limiting) return wanted
      fill()
      // The credit accrues in fractions: without the slack a whole one could read 0.99999…, and
      // each confirmation would come a turn late (the floor rate 10 % short, found by a test).
      const want = Math.min(wanted, batch())
      if (tokens + 1e-6 < want) {
        bound = true
        return 0
      }
      const taken = Math.min(wanted, Math.floor(tokens + 1e-6))
      tokens = Math.max(0, tokens - taken)
      return taken
    },
    giveBack (count) { if (limiting) tokens = Math.min(batch(), tokens + count) },
    waitMs () {
      if (!limiting) return 1
      fill()
      return Math.max(1, Math.min(windowMs, Math.ceil((batch() - tokens) * 1000 / rate)))
    },
    limiting: () => limiting,
    rate: () => rate,
    tick,
    close: () => { clearInterval(timer) }
  }
}
