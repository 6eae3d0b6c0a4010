import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ServiceErrorCodes, type Problem } from './errors.js'

/** The reason phrase of each status service-kit answers with. */
export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

/** Send a problem+json reply. Handlers may call it; thrown errors get here through the one handler. */
export function sendProblem (reply: FastifyReply, status: number, problem: Omit<Problem, 'status' | 'title' | 'type'> & Partial<Problem> & Record<string, unknown>): FastifyReply {
  const body: Problem = { type: 'about:blank', title: TITLES[status] ?? 'Error', status, ...problem }
  return reply.code(status).type('application/problem+json; charset=utf-8').send(body)
}

interface ErrorLike extends Partial<FastifyError> {
  extra?: Record<string, unknown>
  expose?: boolean
  retryAfterSeconds?: number
}

// Postgres SQLSTATEs of a server going away or not accepting yet: 08xxx connection exceptions,
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now.
const PG_UNAVAILABLE = /^(08...|57P0[123])$/
const NODE_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])
// messaging's codes for "no acknowledgement after the bounded retries" and "connection closed".
const MSG_UNAVAILABLE = new Set(['MSG_TIMEOUT', 'MSG_CLOSED'])

/**
 * An error that says a dependency is down for now (Postgres restarting, NATS reconnecting), not
 * that the request is wrong: the caller should retry, so it is a 503 with Retry-After, not a 500.
 * Checked by code along the cause chain (a service may wrap it).
 */
export function isUnavailableError (error: unknown): boolean {
  for (let e = error as { code?: unknown, message?: unknown, cause?: unknown } | undefined, depth = 0; e !== undefined && e !== null && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : ''
    if (MSG_UNAVAILABLE.has(code) || NODE_UNAVAILABLE.has(code) || PG_UNAVAILABLE.test(code)) return true
    // pg's own client-side failures carry no code.
    if (typeof e.message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(e.message)) return true
  }
  return false
}

function toProblem (error: ErrorLike, request: FastifyRequest): Problem {
  if (error.validation !== undefined) {
    const where = error.validationContext ?? 'body'
    const errors = error.validation.map((v) => {
      const pointer = v.instancePath + (v.keyword === 'required' ? `/${String(v.params.missingProperty)}` : v.keyword === 'additionalProperties' ? `/${String(v.params.additionalProperty)}` : '')
      // `field` names it as a form does (`amount.value`), for a message shown beside the field.
      return { path: `/${where}${pointer}`, field: pointer.slice(1).replace(/\//g, '.'), message: v.keyword === 'additionalProperties' ? 'is not allowed here' : v.message ?? 'is invalid' }
    })
    return {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: ServiceErrorCodes.validation,
      detail: `The request ${where} is invalid: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
      errors,
      instance: request.url
    }
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  if (status === 500 && isUnavailableError(error)) {
    return { type: 'about:blank', title: TITLES[503]!, status: 503, code: ServiceErrorCodes.unavailable, detail: 'A dependency of this service is unavailable for a moment; nothing was accepted. Retry shortly.', instance: request.url }
  }
  if (status >= 500 && error.expose !== true) {
    // Never echo a 5xx message: it may carry internals. The log has it.
    return { type: 'about:blank', title: TITLES[status] ?? 'Error', status, code: status === 500 ? ServiceErrorCodes.internal : error.code, detail: 'The server could not complete the request; it has been logged.', instance: request.url }
  }
  return { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail: error.message, ...(error.code === undefined ? {} : { code: error.code }), ...error.extra, instance: request.url }
}

/**
 * The one error handler: every error leaves as `application/problem+json`, 4xx with a message
 * worth reading, 5xx with none. Logged with the request context (pino adds reqId).
 */
export const problemDetails = fp(async function problemDetails (app: FastifyInstance) {
  app.setErrorHandler(function (error: ErrorLike, request, reply) {
    const problem = toProblem(error, request)
    if (problem.code === ServiceErrorCodes.unavailable) request.log.warn({ err: error }, 'request refused: a dependency is unavailable')
    else if (problem.status >= 500 && error.expose !== true) request.log.error({ err: error }, 'request failed')
    else if (problem.status >= 500) request.log.warn({ code: problem.code, status: problem.status, detail: problem.detail }, 'request refused for now')
    else request.log.info({ code: problem.code, status: problem.status, detail: problem.detail }, 'request refused')
    if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
    if (problem.status === 429 || problem.status === 503) {
      const retryAfter = reply.getHeader('retry-after')
      if (retryAfter === undefined) reply.header('retry-after', '1')
    }
    return sendProblem(reply, problem.status, problem)
  })
  app.setNotFoundHandler(function (request, reply) {
    return sendProblem(reply, 404, { code: ServiceErrorCodes.notFound, detail: `No route for ${request.method} ${request.url.split('?')[0]}.`, instance: request.url })
  })
}, { name: 'service-kit.problem-details', fastify: '5.x' })
