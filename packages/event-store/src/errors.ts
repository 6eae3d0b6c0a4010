/** Stable codes for what the event store reports. Check `error.code`, not `instanceof`. */
export const EventStoreErrorCodes = {
  /** A checkpoint moved since it was read: another runner is applying the same events. */
  checkpointConflict: 'ES_CHECKPOINT_CONFLICT',
  /** A batch to record is not in increasing position order. */
  outOfOrder: 'ES_OUT_OF_ORDER',
  /** waitForPosition gave up. */
  timeout: 'ES_TIMEOUT',
  /** A migration failed. */
  migration: 'ES_MIGRATION',
  closed: 'ES_CLOSED',
  /** copyRows was given an executor that is not a transaction of a createDatabase pool. */
  copyNeedsTransaction: 'ES_COPY_NEEDS_TRANSACTION'
} as const
export type EventStoreErrorCode = typeof EventStoreErrorCodes[keyof typeof EventStoreErrorCodes]

export class EventStoreError extends Error {
  readonly code: EventStoreErrorCode
  constructor (code: EventStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'EventStoreError'
    this.code = code
  }
}
