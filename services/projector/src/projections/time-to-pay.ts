/**
 * Time to pay as a bucketed distribution that adds up over days, merchants and currencies
 * (exact percentiles do not: the median of two days is not a function of their medians).
 *
 * Buckets are log-spaced with ratio GAMMA = (1 + ALPHA) / (1 - ALPHA); bucket `k > 0` holds
 * durations d (ms) with GAMMA^(k-2) < d ≤ GAMMA^(k-1) and is represented by the value whose
 * relative distance to both edges is ALPHA. So every duration is within ALPHA (1 %) of its
 * bucket's value, and so is a percentile interpolated like `percentile_cont` (a weighted mean
 * of two such values). Bucket 0 is a duration of 0; negative buckets mirror positive ones (a
 * payment timestamped before its issue, which the exact query would count too).
 */
export const TIME_TO_PAY_ALPHA = 0.01
const GAMMA = (1 + TIME_TO_PAY_ALPHA) / (1 - TIME_TO_PAY_ALPHA)
const LOG_GAMMA = Math.log(GAMMA)

/** The bucket of a duration in milliseconds. */
export function timeToPayBucket (ms: number): number {
  if (ms === 0) return 0
  const magnitude = Math.abs(ms)
  // Integer milliseconds are ≥ 1, so the index is ≥ 0; the bucket is index + 1.
  const index = Math.max(0, Math.ceil(Math.log(magnitude) / LOG_GAMMA))
  return Math.sign(ms) * (index + 1)
}

/** The value (ms) a bucket stands for. */
export function timeToPayValue (bucket: number): number {
  if (bucket === 0) return 0
  const index = Math.abs(bucket) - 1
  return Math.sign(bucket) * 2 * GAMMA ** index / (GAMMA + 1)
}

/**
 * `percentile_cont(q)` over a bucketed distribution (`[bucket, count]` in any order): the
 * value at fractional rank q·(n−1), interpolated between its two neighbours. Null when empty.
 */
export function percentileOfBuckets (buckets: ReadonlyArray<readonly [number, number]>, q: number): number | null {
  const sorted = buckets.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0])
  const total = sorted.reduce((sum, [, n]) => sum + n, 0)
  if (total === 0) return null
  const rank = q * (total - 1)
  const lo = Math.floor(rank)
  const valueAt = (r: number): number => {
    let seen = 0
    for (const [bucket, n] of sorted) {
      seen += n
      if (r < seen) return timeToPayValue(bucket)
    }
    return timeToPayValue(sorted[sorted.length - 1]![0])
  }
  const low = valueAt(lo)
  return rank === lo ? low : low + (rank - lo) * (valueAt(lo + 1) - low)
}
