import { setTimeout as sleep } from 'node:timers/promises'
import type { NewEvent, RecordedEvent } from '@paylinks/contracts'
import type { EventStore } from '@paylinks/event-store'
import { MessagingErrorCodes, type EventPublisher, type PublishedEvent } from '@paylinks/messaging'
import { CommandError, CommandErrorCodes } from './errors.js'

/** A state already folded from a stream, with where that stream stood. */
export interface KnownState<S> {
  state: S
  /** Position of the stream's last event (0 for a stream with none): the expected sequence. */
  position: number
  /** Stream version of the last event (0 for none): the versions the published events get. */
  version: number
}

export interface RetryOptions {
  /** Attempts after the first that lost a race. Default 25. */
  retries?: number
  /** Back-off before the second reload; doubled each time, jittered (±50 %). Default 5 ms. */
  minDelayMs?: number
  /** Largest back-off. Default 200 ms. */
  maxDelayMs?: number
}

export interface CommandOptions<S> {
  store: Pick<EventStore, 'readStream'>
  publisher: EventPublisher
  streamId: string
  /** The state of a stream with no events. */
  initialState: () => S
  /** The one fold of the stream's events (upcast, in stream order). */
  evolve: (state: S, event: RecordedEvent) => S
  /**
   * The events to publish on top of `state`, or nothing (none or undefined) when the command is
   * already done or needs no change. Called again on the reloaded state after a lost race, so it
   * must not repeat side effects; throw to refuse the command.
   */
  decide: (state: S, attempt: number) => NewEvent[] | undefined | Promise<NewEvent[] | undefined>
  /**
   * Decide first on this state instead of reading the stream: the caller just folded it (or
   * knows the stream is new: `{ state: initialState(), position: 0, version: 0 }`). A stale
   * state only costs a lost race and a reload.
   */
  known?: KnownState<S>
  retry?: RetryOptions
}

export interface CommandResult<S> extends KnownState<S> {
  /** The events published by this command, as they read once recorded; empty when none. */
  events: RecordedEvent[]
  acks: PublishedEvent[]
  /** How many races were lost before the decision landed (or was found unnecessary). */
  conflicts: number
}

/** The event as it will read once recorded at `position`: lets the caller go on without a reload. */
function asRecorded (event: NewEvent, position: number, streamVersion: number): RecordedEvent {
  return { ...event, position, streamVersion, recordedAt: new Date().toISOString() }
}

const isConflict = (error: unknown): boolean => (error as { code?: string } | undefined)?.code === MessagingErrorCodes.concurrency

/**
 * Decide on a stream and publish the decision, once: read the stream and fold it (or start from
 * `known`), call `decide`, publish its events with the expected last subject sequence of the
 * state decided on. When another event landed first (or the store has not recorded it yet), the
 * publish is refused with MSG_CONCURRENCY: reload, decide again, with bounded, jittered
 * exponential back-off; past the bound, a CMD_CONTENDED error. Resolves with the state folded
 * with the published events as recorded at their acknowledged positions, so no reload is needed.
 */
export async function handleCommand<S> (options: CommandOptions<S>): Promise<CommandResult<S>> {
  const retries = options.retry?.retries ?? 25
  const minDelayMs = options.retry?.minDelayMs ?? 5
  const maxDelayMs = options.retry?.maxDelayMs ?? 200
  if (!Number.isInteger(retries) || retries < 0 || !(minDelayMs >= 0) || !(maxDelayMs >= minDelayMs)) {
    throw new CommandError(CommandErrorCodes.config, `retry options must be retries >= 0 and 0 <= minDelayMs <= maxDelayMs (got ${retries}, ${minDelayMs}, ${maxDelayMs})`)
  }

  async function load (): Promise<KnownState<S>> {
    const events = await options.store.readStream(options.streamId)
    const last = events.at(-1)
    return { state: events.reduce(options.evolve, options.initialState()), position: last?.position ?? 0, version: last?.streamVersion ?? 0 }
  }

  let current = options.known ?? await load()
  for (let attempt = 0; ; attempt++) {
    const events = await options.decide(current.state, attempt)
    if (events === undefined || events.length === 0) return { ...current, events: [], acks: [], conflicts: attempt }
    try {
      const acks = await options.publisher.publish(events, { expectedLastSubjectSequence: current.position })
      const recorded = events.map((event, i) => asRecorded(event, acks[i]!.seq, current.version + i + 1))
      return {
        state: recorded.reduce(options.evolve, current.state),
        position: recorded.at(-1)!.position,
        version: current.version + recorded.length,
        events: recorded,
        acks,
        conflicts: attempt
      }
    } catch (error) {
      if (!isConflict(error)) throw error
      if (attempt >= retries) {
        throw new CommandError(CommandErrorCodes.contended, `stream ${options.streamId} kept moving: ${attempt + 1} decisions lost their race`, {
          cause: error, details: { streamId: options.streamId, attempts: attempt + 1 }
        })
      }
    }
    // The first reload is immediate: usually our own recorder is a moment behind, or one rival won.
    if (attempt > 0) await sleep(Math.min(maxDelayMs, minDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random()))
    current = await load()
  }
}
