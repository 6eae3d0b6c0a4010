import t from 'tap'
import { createPressure } from '../src/pressure.js'

t.test('pressure should need both deliveries and a busy event loop in the same window', async (t) => {
  let utilization = 0
  const pressure = createPressure({ threshold: 0.8, windowMs: 60_000, utilization: () => utilization })
  t.teardown(pressure.close)
  t.notOk(pressure.underPressure(), 'calm at first')

  utilization = 0.95
  pressure.tick()
  t.notOk(pressure.underPressure(), 'busy without deliveries: a backlog must not throttle itself')

  pressure.delivery()
  utilization = 0.5
  pressure.tick()
  t.notOk(pressure.underPressure(), 'deliveries on an idle loop')

  pressure.delivery()
  pressure.delivery()
  utilization = 0.9
  pressure.tick()
  t.ok(pressure.underPressure(), 'deliveries on a busy loop')

  utilization = 0.9
  pressure.tick()
  t.notOk(pressure.underPressure(), 'the burst passed: no deliveries in the last window')
})

t.test('a threshold of 1 should turn yielding off', async (t) => {
  const pressure = createPressure({ threshold: 1, windowMs: 60_000, utilization: () => 1 })
  t.teardown(pressure.close)
  pressure.delivery()
  pressure.tick()
  t.notOk(pressure.underPressure())
})

t.test('the default utilization should read this process\'s event loop', async (t) => {
  const pressure = createPressure({ threshold: 0.5, windowMs: 60_000 })
  t.teardown(pressure.close)
  pressure.tick()
  // Keep the loop busy for a while, then look: a spinning loop is near 1.
  const until = Date.now() + 200
  while (Date.now() < until) pressure.delivery()
  pressure.tick()
  t.ok(pressure.underPressure(), 'a spinning loop with deliveries is under pressure')
})
