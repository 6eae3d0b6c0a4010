import { Type, type Static, type TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from './errors.js'

/** What every HTTP service reads. Compose with `Type.Composite([ServerConfigSchema, …])`. */
export const ServerConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'Interface to listen on.' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  LOG_FORMAT: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], { default: 'auto', description: 'auto: pretty on a terminal, JSON otherwise' }),
  /** How long a shutdown may take to drain in-flight work before the process exits anyway. */
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1, default: 1_048_576 })
})
export type ServerConfig = Static<typeof ServerConfigSchema>

/**
 * Read configuration once, at boot: pick the schema's variables from `env`, apply defaults,
 * convert strings to numbers and booleans, and fail naming every missing or bad variable.
 * Returns a frozen object. Only service-kit reads `process.env`.
 */
export function loadConfig<S extends TObject> (schema: S, env: Record<string, string | undefined> = process.env): Readonly<Static<S>> {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const value = Value.Convert(schema, Value.Default(schema, raw))
  const problems: string[] = []
  const seen = new Set<string>()
  for (const error of Value.Errors(schema, value)) {
    const name = error.path.split('/')[1] ?? error.path
    if (seen.has(name)) continue
    seen.add(name)
    const given = raw[name]
    problems.push(given === undefined
      ? `${name} is required${describe(schema, name)}`
      : `${name}=${JSON.stringify(redactIfSecret(name, given))}: ${error.message}${describe(schema, name)}`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(value as Static<S>)
}

function describe (schema: TObject, name: string): string {
  const description = schema.properties[name]?.description
  return description === undefined ? '' : ` (${description})`
}

function redactIfSecret (name: string, value: unknown): unknown {
  return /KEY|SECRET|PASSWORD|TOKEN/i.test(name) ? '[redacted]' : value
}

export { Type }
