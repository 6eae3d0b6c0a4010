import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { ProblemSchema, ServiceErrorCodes } from './errors.js'
import { sendProblem } from './problem-details.js'

/** A readiness check resolves when its dependency answers, and throws when it does not. */
export type ReadinessCheck = () => Promise<unknown>

export interface Readiness {
  /** Add a dependency to `/readyz` (e.g. 'postgres', 'nats'). */
  add: (name: string, check: ReadinessCheck) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness
  }
}

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Optional(Type.Record(Type.String(), Type.String()))
})
const ChecksSchema = Type.Record(Type.String(), Type.String(), { description: 'Each dependency: "ok", or why it is not ready.' })
/** A dependency is down: problem+json with `status` and `checks` as extension members. */
const UnavailableSchema = Type.Intersect([ProblemSchema, Type.Object({ checks: ChecksSchema })], { title: 'Unavailable' })

/**
 * `/healthz`: the process is alive. `/readyz`: every registered dependency answers within
 * `timeoutMs`, and the service is not shutting down (a load balancer stops sending then).
 */
export const health = fp(async function health (app: FastifyInstance, options: { timeoutMs?: number }) {
  const timeoutMs = options.timeoutMs ?? 2000
  const checks = new Map<string, ReadinessCheck>()
  let closing = false
  app.decorate('readiness', { add: (name, check) => { checks.set(name, check) } } satisfies Readiness)
  app.addHook('preClose', async () => { closing = true })

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness', response: { 200: HealthSchema } }, logLevel: 'warn' },
    async () => ({ status: 'ok' as const }))

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'Readiness: every dependency answers', response: { 200: HealthSchema, 503: UnavailableSchema } }, logLevel: 'warn' },
    async (_request, reply) => {
      const results: Record<string, string> = {}
      let ok = !closing
      if (closing) results.process = 'shutting down'
      await Promise.all([...checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), timeoutMs, name)
          results[name] = 'ok'
        } catch (error) {
          ok = false
          results[name] = error instanceof Error ? error.message : String(error)
        }
      }))
      if (ok) return await reply.code(200).send({ status: 'ok', checks: results })
      // An outage (Postgres or NATS restarting) is reported while it lasts; the checks run again
      // on every call, so readiness comes back by itself once the dependency answers.
      const down = Object.entries(results).filter(([, r]) => r !== 'ok').map(([name, r]) => `${name}: ${r}`)
      reply.header('retry-after', '1')
      return await sendProblem(reply, 503, { code: ServiceErrorCodes.unavailable, detail: `Not ready: ${down.join('; ')}`, checks: results })
    })
}, { name: 'service-kit.health', fastify: '5.x' })

async function withTimeout<T> (promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${name} did not answer within ${ms} ms`)) }, ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}
