import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { health } from './health.js'
import { acceptEmptyJsonBodies } from './json-body.js'
import { metrics } from './metrics.js'
import { problemDetails } from './problem-details.js'

export interface ServiceKitOptions {
  /** Shown in the OpenAPI document and logs. */
  name: string
  version?: string
  description?: string
  /** Serve the OpenAPI document and its UI at `/docs` (default true). */
  docs?: boolean
  /** Give up on a readiness check after this long (default 2000 ms). */
  readinessTimeoutMs?: number
  /** OpenAPI security schemes routes refer to (e.g. `{ apiKey: { type: 'http', scheme: 'bearer' } }`). */
  securitySchemes?: Record<string, Record<string, unknown>>
}

/**
 * The infrastructure layer of every service, registered first: problem+json errors, JSON bodies
 * that may be empty, OpenAPI at `/docs`, `/healthz` and `/readyz`, and Prometheus `/metrics`.
 */
export const serviceKit = fp(async function serviceKit (app: FastifyInstance, options: ServiceKitOptions) {
  await app.register(problemDetails)
  acceptEmptyJsonBodies(app)
  if (options.docs !== false) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: options.name, version: options.version ?? '0.1.0', ...(options.description === undefined ? {} : { description: options.description }) },
        ...(options.securitySchemes === undefined ? {} : { components: { securitySchemes: options.securitySchemes as any } })
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
  }
  await app.register(health, { ...(options.readinessTimeoutMs === undefined ? {} : { timeoutMs: options.readinessTimeoutMs }) })
  await app.register(metrics, {})
}, { name: 'service-kit', fastify: '5.x' })
