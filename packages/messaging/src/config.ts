import { Type, type Static } from '@sinclair/typebox'

/**
 * The environment every process on the events stream reads. Names are configuration so that
 * tests (and several deployments) share one NATS server without touching each other.
 */
export const EventsStreamConfigSchema = Type.Object({
  NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222', description: 'NATS server(s), comma-separated: every node of a cluster' }),
  EVENTS_STREAM: Type.String({ default: 'EVENTS', pattern: '^[A-Za-z0-9_-]+$', description: 'JetStream stream holding domain events' }),
  EVENTS_SUBJECT_PREFIX: Type.String({ default: 'events', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', description: 'events go to <prefix>.<category>.<id>' }),
  EVENTS_MAX_AGE_HOURS: Type.Number({ default: 168, exclusiveMinimum: 0, description: 'how long JetStream keeps events: the window the recorder must record within' }),
  EVENTS_DUPLICATE_WINDOW_MS: Type.Integer({ default: 120_000, minimum: 100, description: 'JetStream de-duplicates re-sent event ids within this window' }),
  NATS_STREAM_REPLICAS: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'replicas of every stream this service declares (EVENTS, ORDERS, INTEGRATION): 1 on a single server, 3 on a production cluster (default 1, or EVENTS_REPLICAS)' })),
  EVENTS_REPLICAS: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'older name of NATS_STREAM_REPLICAS, read when that is unset' })),
  NATS_USER: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$', description: 'this service\'s NATS user (unset: connect without credentials, to a server without authentication)' })),
  NATS_PASSWORD: Type.Optional(Type.String({ minLength: 1, description: 'the password of NATS_USER' }))
})
export type EventsStreamConfig = Static<typeof EventsStreamConfigSchema>

/** Stream options from that configuration, for `ensureStream`. */
export function eventsStreamOptions (config: EventsStreamConfig): { name: string, subjects: string[], maxAgeMs: number, duplicateWindowMs: number, replicas: number } {
  return {
    name: config.EVENTS_STREAM,
    subjects: [`${config.EVENTS_SUBJECT_PREFIX}.>`],
    maxAgeMs: Math.round(config.EVENTS_MAX_AGE_HOURS * 3_600_000),
    duplicateWindowMs: config.EVENTS_DUPLICATE_WINDOW_MS,
    replicas: streamReplicas(config)
  }
}

/** How many replicas each declared stream has: NATS_STREAM_REPLICAS, else EVENTS_REPLICAS, else 1. */
export function streamReplicas (config: Pick<EventsStreamConfig, 'NATS_STREAM_REPLICAS' | 'EVENTS_REPLICAS'>): number {
  return config.NATS_STREAM_REPLICAS ?? config.EVENTS_REPLICAS ?? 1
}

/** NATS_URL as the client's server list: `a:4222, b:4222` -> ['a:4222', 'b:4222']. */
export function natsServers (url: string): string[] {
  return url.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

/** The credentials part of `connectMessaging`'s options, from that configuration. */
export function natsCredentials (config: Pick<EventsStreamConfig, 'NATS_USER' | 'NATS_PASSWORD'>): { user?: string, pass?: string } {
  if (config.NATS_USER === undefined) return {}
  return { user: config.NATS_USER, ...(config.NATS_PASSWORD === undefined ? {} : { pass: config.NATS_PASSWORD }) }
}
