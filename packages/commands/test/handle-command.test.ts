import t from 'tap'
import type { RecordedEvent } from '@paylinks/contracts'
import { MessagingErrorCodes } from '@paylinks/messaging'
import { credit, testRegistry } from '@paylinks/test-kit'
import { CommandErrorCodes, handleCommand, type CommandOptions } from '../src/index.js'
import { setupCommands } from './helpers.js'

const { store, publisher, streamId } = await setupCommands(t)

interface Ledger { opened: boolean, balance: number, credits: number }
const initialState = (): Ledger => ({ opened: false, balance: 0, credits: 0 })
function evolve (state: Ledger, event: RecordedEvent): Ledger {
  if (event.type === 'ledger.opened') return { ...state, opened: true }
  if (event.type === 'ledger.credited') return { ...state, balance: state.balance + (event.data.amount as { value: number }).value, credits: state.credits + 1 }
  return state
}
const open = (stream: string) => testRegistry.create('ledger.opened', { owner: 'tester' }, { streamId: stream, metadata: { correlationId: 'cmd-test' } })
const ledger = (stream: string): Pick<CommandOptions<Ledger>, 'store' | 'publisher' | 'streamId' | 'initialState' | 'evolve'> =>
  ({ store, publisher, streamId: stream, initialState, evolve })

t.test('handleCommand should publish the decision on the state it read and return that state as recorded', async (t) => {
  const stream = streamId('a')
  const opened = await handleCommand({ ...ledger(stream), known: { state: initialState(), position: 0, version: 0 }, decide: (s) => s.opened ? [] : [open(stream)] })
  t.equal(opened.events.length, 1)
  t.match(opened, { state: { opened: true, balance: 0 }, version: 1, conflicts: 0 })
  t.equal(opened.position, opened.acks[0]!.seq, 'the position is the acknowledged sequence')
  await store.waitForPosition(opened.position)
  const credited = await handleCommand({ ...ledger(stream), decide: (s) => s.opened ? [credit(stream, 250), credit(stream, 50)] : [] })
  t.match(credited, { state: { opened: true, balance: 300, credits: 2 }, version: 3 })
  t.same(credited.events.map((e) => e.streamVersion), [2, 3])
  await store.waitForPosition(credited.position)
  const stored = await store.readStream(stream)
  t.same(stored.map((e) => e.position), [opened.position, ...credited.events.map((e) => e.position)], 'recorded where the acks said')
  t.same(stored.reduce(evolve, initialState()), credited.state, 'the returned state is the state a reload folds')
})

t.test('handleCommand should publish nothing when the decision is that nothing needs doing', async (t) => {
  const stream = streamId('n')
  const first = await handleCommand({ ...ledger(stream), decide: (s) => s.opened ? undefined : [open(stream)] })
  await store.waitForPosition(first.position)
  const again = await handleCommand({ ...ledger(stream), decide: (s) => s.opened ? undefined : [open(stream)] })
  t.same(again.events, [])
  t.equal(again.position, first.position)
  t.equal((await store.readStream(stream)).length, 1)
})

t.test('handleCommand should let one of two racing deciders win and the loser decide again on the new state', async (t) => {
  const stream = streamId('r')
  const base = await handleCommand({ ...ledger(stream), decide: () => [open(stream)] })
  await store.waitForPosition(base.position)
  for (let round = 0; round < 5; round++) {
    const head = (await store.readStream(stream)).at(-1)!
    const known = { state: (await store.readStream(stream)).reduce(evolve, initialState()), position: head.position, version: head.streamVersion }
    // Both decide on the same state before either publishes: the expected sequence must pick one.
    let arrived = 0
    let release!: () => void
    const bothDecided = new Promise<void>((resolve) => { release = resolve })
    const seen: Array<Array<{ attempt: number, balance: number }>> = [[], []]
    const decider = (who: number) => handleCommand({
      ...ledger(stream),
      known,
      retry: { retries: 40, minDelayMs: 5, maxDelayMs: 50 },
      decide: async (s, attempt) => {
        seen[who]!.push({ attempt, balance: s.balance })
        if (attempt === 0) {
          if (++arrived === 2) release()
          await bothDecided
        }
        return [credit(stream, 10 ** who)]
      }
    })
    const results = await Promise.all([decider(0), decider(1)])
    const winners = results.filter((r) => r.conflicts === 0)
    t.equal(winners.length, 1, `round ${round}: exactly one decision landed first`)
    const loser = results.find((r) => r.conflicts > 0)!
    const loserSeen = seen[results.indexOf(loser)]!
    t.equal(loserSeen.at(-1)!.balance, winners[0]!.state.balance, `round ${round}: the loser decided last on the winner's state`)
    t.equal(loser.state.balance, known.state.balance + 11, `round ${round}: both credits count`)
    await store.waitForPosition(loser.position)
  }
  const all = await store.readStream(stream)
  t.equal(all.length, 11, 'one open, two credits a round')
  t.same(all.map((e) => e.streamVersion), Array.from({ length: 11 }, (_, i) => i + 1))
})

t.test('handleCommand should give up with CMD_CONTENDED after the bounded retries', async (t) => {
  const stream = streamId('c')
  const base = await handleCommand({ ...ledger(stream), decide: () => [open(stream)] })
  await store.waitForPosition(base.position)
  let decisions = 0
  const error = await handleCommand({
    ...ledger(stream),
    retry: { retries: 3, minDelayMs: 1, maxDelayMs: 5 },
    decide: async () => {
      decisions++
      // A rival lands between every read and our publish.
      const [ack] = await publisher.publish([credit(stream, 1)])
      await store.waitForPosition(ack!.seq)
      return [credit(stream, 1000)]
    }
  }).catch((e: unknown) => e as { code: string, cause: { code: string } })
  t.match(error, { code: CommandErrorCodes.contended, cause: { code: MessagingErrorCodes.concurrency } })
  t.equal(decisions, 4, 'the first decision and three retries')
  const balance = (await store.readStream(stream)).reduce(evolve, initialState()).balance
  t.equal(balance, 4, 'only the rival\'s credits landed')
})

t.test('handleCommand should refuse retry options it cannot honour', async (t) => {
  await t.rejects(handleCommand({ ...ledger(streamId('x')), retry: { retries: -1 }, decide: () => [] }), { code: CommandErrorCodes.config })
})
