import t from 'tap'
import fc from 'fast-check'
import { createConfirmLimiter, nextRate, type LimiterWindow } from '../src/confirm-limiter.js'

const rule = { targetMs: 10, minRate: 20 }
const windowArb: fc.Arbitrary<LimiterWindow> = fc.record({
  deliveries: fc.nat({ max: 500 }),
  slowMs: fc.double({ min: 0, max: 1000, noNaN: true }),
  bound: fc.boolean()
})

t.test('nextRate should never go below the floor, whatever the windows', async () => {
  fc.assert(fc.property(fc.double({ min: 20, max: 100_000, noNaN: true }), fc.array(windowArb, { maxLength: 200 }), (start, windows) => {
    let rate = start
    for (const w of windows) {
      rate = nextRate(rate, w, rule)
      if (rate < rule.minRate) return false
    }
    return true
  }), { seed: 16, numRuns: 2000 })
})

t.test('nextRate should halve on a slow window, add the floor on a good bound one, and leave the rate otherwise', async () => {
  fc.assert(fc.property(fc.double({ min: 20, max: 100_000, noNaN: true }), windowArb, (rate, w) => {
    const next = nextRate(rate, w, rule)
    if (w.deliveries === 0) return next === rate
    if (w.slowMs > rule.targetMs) return next === Math.max(rule.minRate, rate / 2)
    return w.bound ? next === rate + rule.minRate : next === rate
  }), { seed: 17, numRuns: 2000 })
})

t.test('nextRate should come down to the floor within a few windows of sustained overload, from any rate', async (t) => {
  let rate = 100_000
  let windows = 0
  while (rate > rule.minRate) { rate = nextRate(rate, { deliveries: 100, slowMs: 80, bound: true }, rule); windows++ }
  t.ok(windows <= 13, `${windows} windows`)
})

/** A limiter on a clock of our own, ticked by hand. */
function limiterAt (t: { teardown: (fn: () => void) => void }, options: { targetMs?: number, loopDelayMs?: () => number } = {}): { limiter: ReturnType<typeof createConfirmLimiter>, advance: (ms: number) => void } {
  let clock = 0
  const limiter = createConfirmLimiter({ targetMs: options.targetMs ?? 10, minRate: 20, windowMs: 60_000, now: () => clock, loopDelayMs: options.loopDelayMs ?? (() => 0) })
  t.teardown(limiter.close)
  return { limiter, advance: (ms) => { clock += ms } }
}

t.test('the limiter should not hold confirmations back while no deliveries arrive', async (t) => {
  const { limiter } = limiterAt(t)
  t.equal(limiter.take(8), 8)
  limiter.tick()
  t.notOk(limiter.limiting(), 'a window without deliveries')
  t.equal(limiter.take(8), 8, 'a backlog alone does not throttle itself')
})

t.test('the limiter should pace confirmations while deliveries arrive, and let go once they stop', async (t) => {
  const { limiter, advance } = limiterAt(t)
  limiter.delivery(2)
  limiter.tick()
  t.ok(limiter.limiting())
  t.equal(limiter.take(8), 0, 'no credit yet: the first batch waits')
  t.ok(limiter.waitMs() >= 1)
  advance(limiter.waitMs())
  const first = limiter.take(8)
  t.ok(first >= 1 && first <= 8, `then a batch (${first})`)
  t.equal(limiter.take(8), 0, 'and nothing more right away')
  limiter.tick()
  t.notOk(limiter.limiting(), 'the burst passed')
  t.equal(limiter.take(8), 8)
})

t.test('the limiter should slow down on slow answers or a delayed loop, and speed up on fast ones while it binds', async (t) => {
  let loop = 0
  const { limiter, advance } = limiterAt(t, { loopDelayMs: () => loop })
  limiter.delivery(1)
  limiter.tick()
  const start = limiter.rate()
  limiter.take(8)
  advance(10)
  limiter.take(8)
  limiter.delivery(1)
  limiter.tick()
  t.equal(limiter.rate(), start + 20, 'fast answers while the rate held the confirmer back: one step up')
  for (let i = 0; i < 19; i++) limiter.delivery(3)
  limiter.delivery(500)
  limiter.tick()
  t.equal(limiter.rate(), start + 20, 'one slow answer in twenty is not the 95th percentile')
  for (let i = 0; i < 10; i++) limiter.delivery(40)
  limiter.tick()
  t.equal(limiter.rate(), (start + 20) / 2, 'slow answers halve it')
  loop = 25
  limiter.delivery(1)
  limiter.tick()
  t.equal(limiter.rate(), (start + 20) / 4, 'a delayed event loop (requests waiting unseen) halves it too')
})

t.test('the limiter should still let the floor rate through under sustained overload', async (t) => {
  const { limiter, advance } = limiterAt(t)
  let taken = 0
  // 10 s of windows whose answers are all slow, the confirmer always asking for more.
  for (let ms = 0; ms < 10_000; ms += 5) {
    if (ms % 100 === 0) {
      for (let i = 0; i < 100; i++) limiter.delivery(80)
      limiter.tick()
    }
    taken += limiter.take(8)
    advance(5)
  }
  t.equal(limiter.rate(), 20, 'down to the floor')
  t.ok(taken >= 20 * 10 - 5, `${taken} confirmations in 10 s at the floor of 20/s`)
  t.ok(taken <= 20 * 10 + 80, `${taken} no more than the first windows' higher rate allowed`)
})

t.test('the limiter should give back what the queue could not use', async (t) => {
  const { limiter, advance } = limiterAt(t)
  limiter.delivery(1)
  limiter.tick()
  advance(1000)
  const taken = limiter.take(8)
  t.ok(taken >= 1)
  limiter.giveBack(taken)
  t.equal(limiter.take(8), taken, 'the returned credit is there again')
})

t.test('a target of 0 should never slow confirmations down', async (t) => {
  const { limiter } = limiterAt(t, { targetMs: 0 })
  limiter.delivery(500)
  limiter.tick()
  t.notOk(limiter.limiting())
  t.equal(limiter.take(8), 8)
})
