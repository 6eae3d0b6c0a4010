import type { Static } from '@sinclair/typebox'
import type { EventDefinition } from './registry.js'

/**
 * True when `event` is of `definition`'s type; narrows `event.data` to its schema's type. It
 * checks the type only: the data is trusted to have been validated where the event was parsed
 * or upcast (the registry does both), so a fold pays nothing per event for the narrowing.
 */
export function isEvent<D extends EventDefinition, E extends { type: string, data: unknown }> (
  event: E,
  definition: D
): event is E & { type: D['type'], data: Static<D['schema']> } {
  return event.type === definition.type
}
