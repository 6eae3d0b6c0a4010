import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { health } from './health.js'
import { acceptEmptyJsonBodies } from './json-body.js'
import { metrics } from './metrics.js'
import { documentRoutes, optionalInputs } from './openapi.js'
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
  /**
   * The base URL clients reach the service at (its configured public URL): the document's
   * `servers`. Without it, the address the service listens on.
   */
  publicUrl?: string
  /** The document's licence (default: proprietary, as the project is). */
  license?: { name: string, url?: string, identifier?: string }
}

/** The project's code is not published under an open licence. */
const PROPRIETARY = { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' }

/**
 * The infrastructure layer of every service, registered first: problem+json errors, JSON bodies
 * that may be empty, OpenAPI at `/docs`, `/healthz` and `/readyz`, and Prometheus `/metrics`.
 */
export const serviceKit = fp(async function serviceKit (app: FastifyInstance, options: ServiceKitOptions) {
  await app.register(problemDetails)
  acceptEmptyJsonBodies(app)
  if (options.docs !== false) {
    documentRoutes(app)
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: options.name,
          version: options.version ?? '0.1.0',
          ...(options.description === undefined ? {} : { description: options.description }),
          license: options.license ?? PROPRIETARY
        },
        ...(options.securitySchemes === undefined ? {} : { components: { securitySchemes: options.securitySchemes as any } })
      },
      // Health, readiness, metrics and /status are for operators and orchestrators, not API
      // clients: kept out of the document (each service's README lists them).
      hiddenTag: 'operations',
      transformObject: (document) => {
        const openapiObject = (document as { openapiObject: Record<string, unknown> }).openapiObject
        const url = options.publicUrl ?? listenUrl(app)
        optionalInputs(openapiObject)
        return { ...openapiObject, servers: [{ url: url.replace(/\/+$/, '') || '/' }] }
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
  }
  await app.register(health, { ...(options.readinessTimeoutMs === undefined ? {} : { timeoutMs: options.readinessTimeoutMs }) })
  await app.register(metrics, {})
}, { name: 'service-kit', fastify: '5.x' })

/** The first address the server listens on, as a base URL ('/' before it listens, under inject). */
function listenUrl (app: FastifyInstance): string {
  const address = app.addresses()[0]
  if (address === undefined || typeof address === 'string') return '/'
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`
}
