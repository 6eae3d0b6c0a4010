import './formats.js'
import { randomUUID } from 'node:crypto'
import type { Static, TObject } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { NewEventSchema, type EventMetadata, type NewEvent, type RecordedEvent } from './envelope.js'
import { ContractError, ContractErrorCodes } from './errors.js'

/** Turns data of version `n` into data of version `n + 1`. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>

/** One event type: its current data schema and how to read every older version. */
export interface EventDefinition<T extends string = string, S extends TObject = TObject> {
  readonly type: T
  /** The current schema version: what new events are written with. */
  readonly version: number
  readonly schema: S
  /** `upcasters[n]` lifts version n to n + 1, for every n below `version`. */
  readonly upcasters: Readonly<Record<number, Upcaster>>
}

/**
 * Declare an event type. Bump `version` when the data changes shape, and add the upcaster that
 * lifts the previous version: stored events are never rewritten, they are upcast when read.
 */
export function defineEvent<T extends string, S extends TObject> (
  type: T,
  schema: S,
  options: { version?: number, upcasters?: Record<number, Upcaster> } = {}
): EventDefinition<T, S> {
  const version = options.version ?? 1
  const upcasters = options.upcasters ?? {}
  for (let v = 1; v < version; v++) {
    if (typeof upcasters[v] !== 'function') {
      throw new ContractError(ContractErrorCodes.duplicateDefinition, `event ${type} v${version} has no upcaster from v${v}`)
    }
  }
  return Object.freeze({ type, version, schema, upcasters: Object.freeze({ ...upcasters }) })
}

/** The typed event for a definition: envelope plus its data. */
export type EventOf<D extends EventDefinition> = Omit<NewEvent, 'type' | 'data'> & { type: D['type'], data: Static<D['schema']> }
export type RecordedEventOf<D extends EventDefinition> = Omit<RecordedEvent, 'type' | 'data'> & { type: D['type'], data: Static<D['schema']> }
/** The recorded events of several definitions: a union that `type` (or `is`) narrows. */
export type RecordedEventsOf<Ds extends EventDefinition> = Ds extends EventDefinition ? RecordedEventOf<Ds> : never

/**
 * True when `event` is of `definition`'s type, narrowing `event.data` to its schema. Only the
 * type is compared: use it on events a registry has already upcast and validated (a store read
 * with a registry, a typed subscriber's batch, `registry.parse`).
 */
export function is<E extends { type: string }, D extends EventDefinition> (event: E, definition: D): event is E & { type: D['type'], data: Static<D['schema']> } {
  return event.type === definition.type
}

type DataOf<Ds extends EventDefinition, T extends Ds['type']> = Static<Extract<Ds, { type: T }>['schema']>

export interface CreateEventOptions {
  streamId: string
  metadata: EventMetadata
  id?: string
  occurredAt?: Date
}

/** Where an event is checked: everything that enters or leaves the log goes through one of these. */
export interface EventRegistry<Ds extends EventDefinition = EventDefinition> {
  readonly types: readonly string[]
  /** Build a new event at the current version, validated; the id is a fresh UUID unless given. */
  create<T extends Ds['type']>(type: T, data: DataOf<Ds, T>, options: CreateEventOptions): NewEvent & { type: T, data: DataOf<Ds, T> }
  /** Validate an incoming event (envelope, known type, data), upcast to the current version. */
  parse(input: unknown): NewEvent
  /** Upcast a recorded event to the current version of its type and validate its data. */
  upcast<E extends NewEvent | RecordedEvent>(event: E): E
  /** True when the type is registered. */
  has(type: string): boolean
}

const envelopeCheck = TypeCompiler.Compile(NewEventSchema)

function problemsOf (check: TypeCheck<any>, value: unknown, limit = 5): string[] {
  const problems: string[] = []
  for (const error of check.Errors(value)) {
    problems.push(`${error.path === '' ? '/' : error.path}: ${error.message}`)
    if (problems.length >= limit) break
  }
  return problems
}

/**
 * Check only the envelope, whatever the type: for the recorder, which keeps every well-formed
 * event (types are checked where events are published, data is upcast where it is read).
 */
export function parseEnvelope (input: unknown): NewEvent {
  if (!envelopeCheck.Check(input)) {
    throw new ContractError(ContractErrorCodes.invalidEnvelope, 'not a valid event envelope', problemsOf(envelopeCheck, input))
  }
  return input
}

/** Build the registry of every event type a process may read or write. */
export function createEventRegistry<const Ds extends readonly EventDefinition[]> (definitions: Ds): EventRegistry<Ds[number]> {
  const byType = new Map<string, { definition: EventDefinition, check: TypeCheck<TObject> }>()
  for (const definition of definitions) {
    if (byType.has(definition.type)) {
      throw new ContractError(ContractErrorCodes.duplicateDefinition, `event type ${definition.type} is defined twice`)
    }
    byType.set(definition.type, { definition, check: TypeCompiler.Compile(definition.schema) })
  }
  // Events `create` built (and checked): the publisher's check of such an event is then a set
  // look-up, not a second validation. (A decision's events are not changed after they are made;
  // freezing them to make sure cost as much as the check it saves.)
  const checked = new WeakSet<object>()

  function entryFor (type: string): { definition: EventDefinition, check: TypeCheck<TObject> } {
    const entry = byType.get(type)
    if (entry === undefined) {
      throw new ContractError(ContractErrorCodes.unknownEvent, `unknown event type '${type}' (known: ${[...byType.keys()].join(', ') || 'none'})`)
    }
    return entry
  }

  function upcastData (event: NewEvent): NewEvent {
    const { definition, check } = entryFor(event.type)
    if (event.schemaVersion > definition.version) {
      throw new ContractError(ContractErrorCodes.unsupportedVersion,
        `event ${event.id} is ${event.type} v${event.schemaVersion}, but this process reads up to v${definition.version}`)
    }
    let data = event.data
    for (let v = event.schemaVersion; v < definition.version; v++) {
      data = definition.upcasters[v]!(data)
    }
    if (!check.Check(data)) {
      throw new ContractError(ContractErrorCodes.invalidData, `invalid data for ${event.type} v${definition.version} (event ${event.id})`, problemsOf(check, data))
    }
    return event.schemaVersion === definition.version && data === event.data
      ? event
      : { ...event, schemaVersion: definition.version, data }
  }

  return {
    types: [...byType.keys()],
    has: (type) => byType.has(type),
    create (type, data, options) {
      const { definition } = entryFor(type)
      const event = {
        id: options.id ?? randomUUID(),
        type,
        schemaVersion: definition.version,
        streamId: options.streamId,
        occurredAt: (options.occurredAt ?? new Date()).toISOString(),
        data: data as Record<string, unknown>,
        metadata: options.metadata
      }
      const created = this.parse(event)
      checked.add(created)
      return created as NewEvent & { type: typeof type, data: typeof data }
    },
    parse (input) {
      if (typeof input === 'object' && input !== null && checked.has(input)) return input as NewEvent
      return upcastData(parseEnvelope(input))
    },
    upcast (event) {
      return upcastData(event) as typeof event
    }
  }
}
