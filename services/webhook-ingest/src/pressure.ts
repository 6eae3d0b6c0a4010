import { performance, type EventLoopUtilization } from 'node:perf_hooks'

export interface Pressure {
  /** A request reached the webhook endpoint. */
  delivery: () => void
  /** True while deliveries are arriving and the event loop was busier than the threshold. */
  underPressure: () => boolean
  /** Close the current window and decide (runs every `windowMs`; tests call it directly). */
  tick: () => void
  close: () => void
}

export interface PressureOptions {
  /** Event-loop utilization (0–1) above which a window with deliveries counts as pressure; 1 or more: never. */
  threshold: number
  /** Default 250 ms. */
  windowMs?: number
  /** The utilization since the previous call; default the process's event-loop utilization. */
  utilization?: () => number
}

function eventLoopUtilization (): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  return () => {
    const now = performance.eventLoopUtilization()
    const { utilization } = performance.eventLoopUtilization(now, last)
    last = now
    return utilization
  }
}

/**
 * Tells background work when the webhook endpoint needs the process: Dojo retries deliveries
 * that are not answered quickly, while the confirmations they queue are durable and can wait.
 * Deliveries, not utilization alone, decide: a confirmer busy with a backlog must not throttle
 * itself.
 */
export function createPressure (options: PressureOptions): Pressure {
  const utilization = options.utilization ?? eventLoopUtilization()
  let deliveries = 0
  let pressed = false
  const tick = (): void => {
    const busy = utilization() > options.threshold
    pressed = busy && deliveries > 0 && options.threshold < 1
    deliveries = 0
  }
  const timer = setInterval(tick, options.windowMs ?? 250).unref()
  return {
    delivery: () => { deliveries++ },
    underPressure: () => pressed,
    tick,
    close: () => { clearInterval(timer) }
  }
}
