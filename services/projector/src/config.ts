import { Type, type Static } from '@sinclair/typebox'
import { DatabaseConfigSchema } from '@paylinks/event-store'
import { ApiKeyAuthConfigSchema } from '@paylinks/merchants'
import { EventsStreamConfigSchema } from '@paylinks/messaging'
import { ServerConfigSchema } from '@paylinks/service-kit'

export const ProjectorConfigSchema = Type.Composite([
  ServerConfigSchema,
  DatabaseConfigSchema,
  EventsStreamConfigSchema,
  ApiKeyAuthConfigSchema,
  Type.Object({
    PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'where API clients reach this service: the OpenAPI document\'s server (default: the address it listens on)' })),
    INTEGRATION_STREAM: Type.String({ default: 'INTEGRATION', pattern: '^[A-Za-z0-9_-]+$', description: 'JetStream stream order systems subscribe to' }),
    INTEGRATION_SUBJECT_PREFIX: Type.String({ default: 'paylinks', pattern: '^[A-Za-z0-9_-]+$', description: 'integration events go to <prefix>.v1.<kind>.<merchantId>' }),
    INTEGRATION_MAX_AGE_HOURS: Type.Number({ default: 168, exclusiveMinimum: 0, description: 'how long order systems can be away and still catch up' }),
    MIGRATE_ON_START: Type.Boolean({ default: true }),
    PROJECTION_RECONCILE_MS: Type.Integer({ default: 1000, minimum: 10, description: 'how often generations are checked (new version, rebuild asked, caught up)' })
  })
])
export type ProjectorConfig = Static<typeof ProjectorConfigSchema>
