import { setTimeout as sleep } from 'node:timers/promises'
import { readCheckpoint, type Executor, type StoreSubscriber } from '@paylinks/event-store'

export interface ReadYourWritesOptions {
  db: Executor
  /** The read model lists are served from, and its checkpoint's name. */
  readModel: Pick<StoreSubscriber, 'status'>
  name: string
  /** Longest a list waits for the read model (0: never waits). */
  waitMs: number
  /** Merchants remembered at once. Default 10,000. */
  maxMerchants?: number
}

/** Where the read model stood when a list was served: `fresh` false when it did not reach the target in time. */
export interface Consistency {
  target: number
  position: number
  fresh: boolean
}

export interface ReadYourWrites {
  /** Remember the position of a merchant's acknowledged write on this replica. */
  wrote: (merchantId: string, position: number) => void
  /**
   * Wait, up to `waitMs`, until the read model has applied the merchant's last write on this
   * replica and `minPosition` (a position the client saw, from any replica). Undefined when
   * there is nothing to wait for: no query, no delay.
   */
  reach: (merchantId: string | undefined, minPosition: number | undefined) => Promise<Consistency | undefined>
}

/**
 * Read-your-writes for lists served from an eventually consistent read model: a write's
 * position is remembered per merchant (and returned to the client, who may send it back to any
 * replica), and a list first waits, briefly, for the read model's checkpoint to reach it.
 */
export function createReadYourWrites (options: ReadYourWritesOptions): ReadYourWrites {
  const max = options.maxMerchants ?? 10_000
  const lastWrite = new Map<string, number>()

  // The subscriber's own position when it runs here (no query); the committed checkpoint when
  // another replica holds the read model.
  async function position (): Promise<{ at: number, local: boolean }> {
    const status = options.readModel.status()
    if (status.active) return { at: status.position, local: true }
    return { at: await readCheckpoint(options.db, options.name), local: false }
  }

  return {
    wrote (merchantId, at) {
      if ((lastWrite.get(merchantId) ?? 0) >= at) return
      lastWrite.delete(merchantId)
      if (lastWrite.size >= max) lastWrite.delete(lastWrite.keys().next().value!)
      lastWrite.set(merchantId, at)
    },
    async reach (merchantId, minPosition) {
      const target = Math.max(merchantId === undefined ? 0 : lastWrite.get(merchantId) ?? 0, minPosition ?? 0)
      if (target === 0) return undefined
      const deadline = Date.now() + options.waitMs
      for (;;) {
        const { at, local } = await position()
        if (at >= target) {
          if (merchantId !== undefined && lastWrite.get(merchantId) === target) lastWrite.delete(merchantId)
          return { target, position: at, fresh: true }
        }
        const left = deadline - Date.now()
        if (left <= 0) return { target, position: at, fresh: false }
        await sleep(Math.min(left, local ? 5 : 25))
      }
    }
  }
}
