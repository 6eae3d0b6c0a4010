import { Type, type Static } from '@sinclair/typebox'
import { DateTimeSchema, EventTypeSchema, StreamIdSchema, UuidSchema } from './primitives.js'

const Reference = Type.String({ minLength: 1, maxLength: 200 })

/**
 * W3C trace context of the span that published the event (`version-traceid-spanid-flags`): random
 * ids, no personal data. Stored with the event so that readers of the store continue the trace.
 */
export const TraceparentSchema = Type.String({ pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' })

/** Who asked for this and why: carried from event to event so a flow can be traced. */
export const EventMetadataSchema = Type.Object({
  correlationId: Reference,
  causationId: Type.Optional(Reference),
  producer: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  /** Set by the publisher when tracing is on. */
  traceparent: Type.Optional(TraceparentSchema),
  tracestate: Type.Optional(Type.String({ maxLength: 512 }))
}, { additionalProperties: false })
export type EventMetadata = Static<typeof EventMetadataSchema>

/** An event as a service publishes it: decided, not yet recorded. */
export const NewEventSchema = Type.Object({
  id: UuidSchema,
  type: EventTypeSchema,
  schemaVersion: Type.Integer({ minimum: 1, maximum: 1000 }),
  streamId: StreamIdSchema,
  occurredAt: DateTimeSchema,
  data: Type.Record(Type.String(), Type.Unknown()),
  metadata: EventMetadataSchema
}, { additionalProperties: false })
export type NewEvent = Static<typeof NewEventSchema>

/**
 * An event as the store holds it. `position` is the global log position: the JetStream
 * stream sequence it was published at. `streamVersion` counts the stream's events from 1, no gaps.
 */
export const RecordedEventSchema = Type.Composite([
  NewEventSchema,
  Type.Object({
    position: Type.Integer({ minimum: 1 }),
    streamVersion: Type.Integer({ minimum: 1 }),
    recordedAt: DateTimeSchema
  })
], { additionalProperties: false })
export type RecordedEvent = Static<typeof RecordedEventSchema>
