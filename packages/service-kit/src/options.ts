import { randomUUID } from 'node:crypto'
import AjvCompiler from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'
import { stringFormats } from '@paylinks/contracts'
import type { ServerConfig } from './config.js'
import { loggerOptions } from './logger.js'

const ajvCustomOptions = {
  // Extra fields are an error the caller should hear about, not something to drop silently.
  removeAdditional: false,
  useDefaults: true,
  allErrors: true,
  coerceTypes: 'array'
} as const

type AjvFormat = RegExp | ((value: string) => boolean) | { validate?: RegExp | ((value: string) => boolean) } | undefined

const predicate = (format: AjvFormat): ((value: string) => boolean) | undefined => {
  const validate = format !== undefined && typeof format === 'object' && !(format instanceof RegExp) ? format.validate : format
  if (validate instanceof RegExp) return (value) => validate.test(value)
  return validate
}

/**
 * Our one rule for each string format (contracts' formats.ts: what Date and URL can read), on
 * top of ajv-formats' syntax checks, so HTTP input is never looser than it was and never
 * passes a value the code cannot read.
 */
function addFormats (ajv: { formats: Record<string, AjvFormat>, addFormat: (name: string, format: (value: string) => boolean) => unknown }): void {
  for (const [name, check] of Object.entries(stringFormats)) {
    const syntax = predicate(ajv.formats[name])
    ajv.addFormat(name, syntax === undefined ? check : (value) => syntax(value) && check(value))
  }
}

/**
 * Query strings, params and headers arrive as strings and are coerced to their schema types;
 * JSON bodies are not: `"amount": "10"` is a string and is refused. One factory per server:
 * its pool hands every plugin context with the same shared schemas the same two Ajv instances
 * (a factory per call built and compiled them again for each context).
 */
function validatorBuilder (): (externalSchemas: Record<string, any>, ajvOptions: any) => any {
  const factory = AjvCompiler()
  return (externalSchemas, ajvOptions) => {
    const coercing = factory(externalSchemas, { ...ajvOptions, customOptions: { ...ajvCustomOptions }, onCreate: addFormats })
    const strict = factory(externalSchemas, { ...ajvOptions, customOptions: { ...ajvCustomOptions, coerceTypes: false }, onCreate: addFormats })
    return (route: { httpPart?: string }) => route.httpPart === 'body' ? strict(route as any) : coercing(route as any)
  }
}

/**
 * The Fastify constructor options every service uses, in production and in tests alike, so no
 * test runs a different validator, logger or limit than the server does.
 */
export function serverOptions (config: Pick<ServerConfig, 'LOG_LEVEL' | 'REQUEST_TIMEOUT_MS' | 'BODY_LIMIT_BYTES'> & Partial<Pick<ServerConfig, 'LOG_FORMAT'>>, options: { name?: string, pretty?: boolean } = {}): FastifyServerOptions {
  const format = config.LOG_FORMAT ?? 'auto'
  const pretty = options.pretty ?? (format === 'auto' ? undefined : format === 'pretty')
  return {
    logger: loggerOptions({ level: config.LOG_LEVEL, ...(options.name === undefined ? {} : { name: options.name }), ...(pretty === undefined ? {} : { pretty }) }),
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    connectionTimeout: config.REQUEST_TIMEOUT_MS,
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: ajvCustomOptions },
    schemaController: { compilersFactory: { buildValidator: validatorBuilder() } }
  }
}
