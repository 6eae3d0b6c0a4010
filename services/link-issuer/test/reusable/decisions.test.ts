// The reusable link's decisions and its fold, alone: random histories of payers arriving (some
// deciding on a state another payer's decision already changed, as racing requests do), paying,
// ending unpaid, repeated and late reports, changes of the limit and deactivation.
import t from 'tap'
import fc from 'fast-check'
import { admitsPayer, evolveReusableLink, placesTaken, type NewEvent, type RecordedEvent, type ReusableLinkState } from '@paylinks/contracts'
import { decideAdmit, decideChange, decideCreate, decideDeactivate, decideSettle, reusableLinkIdFor } from '../../src/reusable/decisions.js'

const id = reusableLinkIdFor('mer_test0001', 'menu')
const hold = new Date('2026-12-01T12:00:00.000Z')

/** The stream as JetStream keeps it: an event lands only on the sequence it was decided on. */
class Stream {
  state: ReusableLinkState | undefined
  private events = 0
  apply (decided: NewEvent[], on: ReusableLinkState | undefined): boolean {
    if ((on?.position ?? 0) !== (this.state?.position ?? 0)) return false
    for (const event of decided) {
      this.events++
      const recorded: RecordedEvent = { ...event, position: this.events, streamVersion: this.events, recordedAt: event.occurredAt }
      this.state = evolveReusableLink(this.state, recorded)
    }
    return true
  }
}

/** Decide on `on` as handleCommand does: a refused publish reloads and decides again; a refusal by the decision is an answer. */
function command (stream: Stream, decide: (s: ReusableLinkState) => NewEvent[], on = stream.state): 'landed' | 'refused' | 'nothing' {
  let state = on
  for (;;) {
    let events: NewEvent[]
    try {
      events = decide(state!)
    } catch {
      return 'refused'
    }
    if (events.length === 0) return 'nothing'
    if (stream.apply(events, state)) return 'landed'
    state = stream.state
  }
}

type Op =
  | { kind: 'admit', stale: boolean }
  | { kind: 'complete' | 'release' | 'late-complete', child: number }
  | { kind: 'deactivate' }
  | { kind: 'limit', to: number | null }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('admit' as const), stale: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('complete' as const, 'release' as const, 'late-complete' as const), child: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deactivate' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('limit' as const), to: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }) }) }
)

function created (maxPayments: number | undefined): Stream {
  const stream = new Stream()
  stream.apply(decideCreate(undefined, {
    reusableLinkId: id, merchantId: 'mer_test0001', reference: 'menu', amount: { value: 500, currencyCode: 'GBP' }, ...(maxPayments === undefined ? {} : { maxPayments }), causationId: 'c', correlationId: 'c'
  }), undefined)
  return stream
}

t.test('the reusable link fold should never hold more completed and payable admitted payers than the limit in force when they were admitted', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(op, fc.boolean()), { maxLength: 60 }), (limit, ops) => {
    const stream = created(limit)
    let stale: ReusableLinkState | undefined = stream.state
    let limitInForce: number | undefined = limit
    let highest = limit
    for (const [o, snapshot] of ops) {
      const before = stream.state!
      if (o.kind === 'admit') {
        // A stale payer decided on an older state: its publish is refused and it decides again.
        const on = o.stale ? stale : before
        const outcome = command(stream, (s) => decideAdmit(s, hold, 'p'), on)
        const after = stream.state!
        if (outcome === 'landed') {
          if (limitInForce !== undefined && placesTaken(after) > limitInForce) return false
          if (!admitsPayer(before) && before.position === after.position - 1) return false
        } else if (!o.stale && admitsPayer(before)) return false
      } else if (o.kind === 'deactivate') {
        command(stream, (s) => decideDeactivate(s, undefined, 'm'))
        if (stream.state!.active) return false
      } else if (o.kind === 'limit') {
        if (command(stream, (s) => decideChange(s, { maxPayments: o.to }, 'm')) === 'landed') {
          limitInForce = o.to ?? undefined
          highest = o.to === null ? Infinity : Math.max(highest, o.to)
        }
      } else {
        const child = before.children[o.child % Math.max(1, before.children.length)]
        if (child === undefined) continue
        const outcome = o.kind === 'release' ? 'released' : 'completed'
        // A late report decides on the state before an earlier settlement of the same child.
        const on = o.kind === 'late-complete' ? stale : before
        command(stream, (s) => decideSettle(s, child.linkId, outcome, outcome === 'completed' ? 'paid' : 'canceled'), on)
      }
      const s = stream.state!
      const held = s.children.filter((c) => c.status === 'held').length
      const completed = s.children.filter((c) => c.status === 'completed').length
      if (s.completed !== completed || s.released !== s.children.length - held - completed || s.admitted !== s.children.length) return false
      // Never past the largest limit that was ever in force.
      if (completed + held > highest) return false
      if (!s.active && s.admitted > before.admitted) return false
      if (snapshot) stale = s
    }
    return true
  }), { numRuns: 500 })
  t.pass('500 random histories')
})

t.test('decideSettle should settle a child once: a repeat, or a payment reported after its release, changes nothing', async (t) => {
  const stream = created(1)
  t.equal(command(stream, (s) => decideAdmit(s, hold, 'p')), 'landed')
  const child = stream.state!.children[0]!.linkId
  t.equal(command(stream, (s) => decideAdmit(s, hold, 'p')), 'refused', 'the one place is held')
  t.equal(command(stream, (s) => decideSettle(s, child, 'released', 'canceled')), 'landed')
  t.equal(command(stream, (s) => decideSettle(s, child, 'completed', 'paid')), 'nothing', 'a released child is never completed')
  t.match(stream.state, { admitted: 1, completed: 0, released: 1 })
  t.equal(command(stream, (s) => decideAdmit(s, hold, 'p')), 'landed', 'the freed place is taken again')
  t.not(stream.state!.children[1]!.linkId, child, 'by a link of its own')
})
