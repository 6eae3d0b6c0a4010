import type { FastifyInstance } from 'fastify'
import { Type, type TRef } from '@sinclair/typebox'
import { ProblemSchema } from './errors.js'
import { TITLES } from './problem-details.js'

/** The `$id` of the one Problem schema: `#/components/schemas/Problem` in every document. */
export const PROBLEM_SCHEMA_ID = 'Problem'

export interface ProblemResponse {
  description: string
  content: { 'application/problem+json': { schema: TRef } }
}

/** The documented `application/problem+json` response for `status`, referring to the shared Problem component. */
export function problemResponse (status: number): ProblemResponse {
  return { description: `${TITLES[status] ?? 'Error'}: problem details (RFC 9457)`, content: { 'application/problem+json': { schema: Type.Ref(PROBLEM_SCHEMA_ID) } } }
}

/** `response` entries for each of `statuses`: `{ 200: X, ...problemResponses(400, 404) }`. */
export function problemResponses (...statuses: number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(statuses.map((s) => [s, problemResponse(s)]))
}

/**
 * Route-level OpenAPI defaults, applied as routes are added (the schema stays the one source):
 * the Problem schema is shared (`addSchema`), and a route that validates input documents the
 * 400 that validation answers with, unless it declares its own.
 */
export function documentRoutes (app: FastifyInstance): void {
  app.addSchema({ ...ProblemSchema, $id: PROBLEM_SCHEMA_ID })
  app.addHook('onRoute', (route) => {
    const schema = route.schema
    if (schema === undefined || schema.hide === true) return
    const validates = schema.body !== undefined || schema.querystring !== undefined || schema.params !== undefined || schema.headers !== undefined
    const response = (schema.response ?? {}) as Record<string, unknown>
    if (validates && response['400'] === undefined) route.schema = { ...schema, response: { ...response, 400: problemResponse(400) } }
  })
}

interface Operation {
  parameters?: Array<{ in?: string, required?: boolean, schema?: { default?: unknown } }>
  requestBody?: { required?: boolean, content?: Record<string, { schema?: { anyOf?: Array<Record<string, unknown>> } }> }
}

/**
 * What a client may leave out, which @fastify/swagger documents as required: a request body
 * whose schema admits `null` (`Type.Union([X, Type.Null()])`: Fastify validates a missing body
 * as null, so the handler takes none as no options; the `null` branch is left out of the
 * document), and a query or header parameter with a `default` (validation fills it in).
 */
export function optionalInputs (document: { paths?: Record<string, Record<string, unknown>> }): void {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item) as Operation[]) {
      for (const parameter of operation?.parameters ?? []) {
        if (parameter.in !== 'path' && parameter.schema?.default !== undefined) parameter.required = false
      }
      const body = operation?.requestBody
      if (body?.content === undefined) continue
      let optional = false
      for (const media of Object.values(body.content)) {
        const anyOf = media.schema?.anyOf
        if (anyOf === undefined || !anyOf.some((s) => s.type === 'null')) continue
        optional = true
        const rest = anyOf.filter((s) => s.type !== 'null')
        media.schema = rest.length === 1 ? rest[0]! : { ...media.schema, anyOf: rest }
      }
      if (optional) body.required = false
    }
  }
}

/**
 * Schema defaults for every documented route added to `app`'s scope after this call, unless
 * the route sets them: e.g. the `security` a scope's auth hook enforces, so the document says
 * what the code does. `response` entries merge, the route's own winning.
 */
export function routeDefaults (app: FastifyInstance, defaults: Record<string, unknown> & { response?: Record<number, unknown> }): void {
  const { response: defaultResponses, ...rest } = defaults
  app.addHook('onRoute', (route) => {
    if (route.schema === undefined || route.schema.hide === true) return
    const own = (route.schema.response ?? {}) as Record<string, unknown>
    route.schema = { ...rest, ...route.schema, ...(defaultResponses === undefined ? {} : { response: { ...defaultResponses, ...own } }) }
  })
}
