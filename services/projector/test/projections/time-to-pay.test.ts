import t from 'tap'
import fc from 'fast-check'
import pg from 'pg'
import { onTeardown, TEST_DATABASE_URL } from '@paylinks/test-kit'
import { percentileOfBuckets, TIME_TO_PAY_ALPHA, timeToPayBucket, timeToPayValue } from '../../src/projections/time-to-pay.js'

const DAY_MS = 86_400_000

// Durations as links have them: mostly seconds to days, some 0 and some exact bucket edges.
const duration = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: Math.round(1000 * Math.log(60 * DAY_MS)) }).map((x) => Math.round(Math.exp(x / 1000))) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 2, 1000, 60_000, DAY_MS) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((i) => Math.round(timeToPayValue(i) * (1 + TIME_TO_PAY_ALPHA))) }
)

function distribution (values: number[]): Array<[number, number]> {
  const counts = new Map<number, number>()
  for (const v of values) {
    const bucket = timeToPayBucket(v)
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1)
  }
  return [...counts]
}

t.test('a bucket should hold every duration within ALPHA of its value', async (t) => {
  fc.assert(fc.property(duration, (ms) => {
    const value = timeToPayValue(timeToPayBucket(ms))
    return Math.abs(value - ms) <= TIME_TO_PAY_ALPHA * ms + 1e-9
  }), { seed: 16, numRuns: 5000 })
  t.equal(timeToPayBucket(0), 0)
  t.equal(timeToPayValue(timeToPayBucket(-5000)), -timeToPayValue(timeToPayBucket(5000)), 'negative durations mirror positive ones')
  fc.assert(fc.property(duration, duration, (a, b) => a > b ? timeToPayBucket(a) >= timeToPayBucket(b) : timeToPayBucket(a) <= timeToPayBucket(b)), { seed: 7, numRuns: 2000 })
  t.ok(timeToPayBucket(1000) > timeToPayBucket(970), 'buckets are ordered as durations, about 2 % wide')
})

t.test('median and p90 of a bucketed distribution should be within ALPHA of percentile_cont in Postgres', async (t) => {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await db.connect()
  onTeardown(t, () => db.end())
  const exact = async (values: number[], q: number): Promise<number | null> =>
    (await db.query<{ p: number | null }>('SELECT percentile_cont($2::float8) WITHIN GROUP (ORDER BY v) AS p FROM unnest($1::float8[]) AS v', [values, q])).rows[0]!.p
  let checked = 0
  await fc.assert(fc.asyncProperty(fc.array(duration, { minLength: 0, maxLength: 400 }), fc.constantFrom(0.5, 0.9, 0.99), async (values, q) => {
    const estimate = percentileOfBuckets(distribution(values), q)
    const truth = await exact(values, q)
    checked++
    if (truth === null) return estimate === null
    return estimate !== null && Math.abs(estimate - Number(truth)) <= TIME_TO_PAY_ALPHA * Number(truth) + 1e-6
  }), { seed: 42, numRuns: 300 })
  t.equal(checked, 300)
  t.equal(percentileOfBuckets(distribution([]), 0.5), null, 'no paid link, no median')
})
