import { Type, type Static } from '@sinclair/typebox'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { EventsStreamConfigSchema } from '@paylinks/messaging'
import { ServerConfigSchema } from '@paylinks/service-kit'

export const RecorderConfigSchema = Type.Composite([
  ServerConfigSchema,
  DatabaseConfigSchema,
  EventsStreamConfigSchema,
  Type.Object({
    RECORDER_DURABLE: Type.String({ default: 'event-recorder', pattern: '^[A-Za-z0-9_-]+$', description: 'durable consumer name on the events stream' }),
    RECORDER_BATCH_SIZE: Type.Integer({ default: 500, minimum: 1, maximum: 5000, description: 'most events inserted per transaction' }),
    RECORDER_LINGER_MS: Type.Integer({ default: 5, minimum: 0, maximum: 100, description: 'wait this long for more events before committing a small batch: fewer commits under load, at most this much added latency' }),
    RECORDER_LOCK_ID: Type.Integer({ default: 7_202_611, description: 'advisory lock electing the one active recorder per database' }),
    RECORDER_STANDBY_POLL_MS: Type.Integer({ default: 1000, minimum: 10, description: 'how often a standby tries to take over' }),
    RECORDER_RETRY_DELAY_MS: Type.Integer({ default: 500, minimum: 1, description: 'first back-off after a failure (doubles, jittered, up to 2 s)' }),
    RECORDER_HEARTBEAT_MS: Type.Integer({ default: 1000, minimum: 10, description: 'while idle, the lock\'s Postgres session is checked this often: a lost session stops the pull within this long' }),
    RECORDER_LOCK_SESSION_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 0, description: 'Postgres ends the lock\'s session after this long without a word from the recorder (a frozen process), freeing the lock for a standby; 0: never' }),
    MIGRATE_ON_START: Type.Boolean({ default: true, description: 'apply pending migrations before recording' })
  })
])
export type RecorderConfig = Static<typeof RecorderConfigSchema>
