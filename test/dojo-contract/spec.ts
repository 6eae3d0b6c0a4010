// Dojo's published OpenAPI documents, read at test time from a copy beside the clone (never
// committed: see shared/dojo-openapi/README.md), turned into JSON Schemas ajv can check.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import $RefParser from '@apidevtools/json-schema-ref-parser'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { parse as parseYaml } from 'yaml'

// ajv-formats is CommonJS: its default export arrives wrapped under tsx and NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default

/** The repository root (this file lives in <root>/test/dojo-contract). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const
export type Method = typeof METHODS[number]

/**
 * Where Dojo's specs are: `DOJO_OPENAPI_DIR`, else `../shared/dojo-openapi` beside the clone,
 * else one level further up (a clone that sits one folder deeper). `tried` says where it looked.
 */
export function findSpecDir (env: NodeJS.ProcessEnv = process.env): { dir: string | undefined, tried: string[] } {
  const candidates = env.DOJO_OPENAPI_DIR !== undefined && env.DOJO_OPENAPI_DIR !== ''
    ? [resolve(env.DOJO_OPENAPI_DIR)]
    : [resolve(REPO_ROOT, '..', 'shared', 'dojo-openapi'), resolve(REPO_ROOT, '..', '..', 'shared', 'dojo-openapi')]
  const dir = candidates.find((c) => existsSync(c) && specFiles(c).length > 0)
  return { dir, tried: candidates }
}

/** The spec files of a folder (`dojo-<yyyy-mm-dd>.json|yaml`), newest (the reference) first. */
export function specFiles (dir: string): string[] {
  return readdirSync(dir).filter((f) => /^dojo-\d{4}-\d{2}-\d{2}\.(json|ya?ml)$/.test(f)).sort().reverse().map((f) => join(dir, f))
}

/** A JSON Schema (after conversion from OpenAPI 3.0), loosely typed: it is data from Dojo. */
export type Schema = Record<string, any>

export interface Parameter { name: string, in: 'header' | 'path' | 'query' | 'cookie', required: boolean, schema: Schema | undefined }

export interface Operation {
  method: Method
  /** The path template, e.g. `/payment-intents/{paymentIntentId}`. */
  path: string
  /** Dojo's operationId, or `METHOD path` where it has none. */
  operationId: string
  tags: string[]
  parameters: Parameter[]
  /** Security: the `Authorization` header is required unless the operation says `security: []`. */
  authorization: boolean
  request: { schema: Schema, required: boolean, examples: Record<string, unknown> } | undefined
  /** By status code ("200", "400", …). `schema` is undefined for bodiless answers (204). */
  responses: Record<string, { schema: Schema | undefined, examples: Record<string, unknown> }>
}

export interface Spec {
  file: string
  /** info.version, e.g. `2026-02-27`: also the `version` header to send. */
  version: string
  openapi: string
  operations: Operation[]
  /** The spec's component schemas, converted and dereferenced (e.g. `ProblemDetails`). */
  schemas: Record<string, Schema>
  /** Validate a value against a schema of this spec: the errors, empty when it is valid. */
  validate: (schema: Schema, value: unknown) => string[]
}

/**
 * OpenAPI 3.0 schemas into JSON Schema (draft 2019+/2020): `nullable: true` becomes a type union
 * (or `anyOf` with null where there is no plain `type`), boolean `exclusiveMinimum/Maximum`
 * become numbers. 3.1 documents are JSON Schema already and pass through unchanged.
 */
export function toJsonSchema (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = k === 'example' || k === 'examples' ? v : toJsonSchema(v)
  for (const bound of ['Minimum', 'Maximum'] as const) {
    const flag = out[`exclusive${bound}`]
    if (typeof flag === 'boolean') {
      delete out[`exclusive${bound}`]
      if (flag) { out[`exclusive${bound}`] = out[bound.toLowerCase()]; delete out[bound.toLowerCase()] }
    }
  }
  if (out.nullable !== true) return out
  delete out.nullable
  if (typeof out.type === 'string' && out.$ref === undefined && out.oneOf === undefined && out.anyOf === undefined && out.allOf === undefined) {
    out.type = [out.type, 'null']
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null]
    return out
  }
  const { description, title, ...rest } = out
  return { ...(description === undefined ? {} : { description }), ...(title === undefined ? {} : { title }), anyOf: [rest, { type: 'null' }] }
}

/** Load, convert and dereference one spec file. */
export async function loadSpec (file: string): Promise<Spec> {
  const text = readFileSync(file, 'utf8')
  const raw = (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as Schema
  const openapi = String(raw.openapi)
  const converted = (openapi.startsWith('3.0') ? toJsonSchema(raw) : raw) as Schema
  for (const [name, extra] of [...Object.entries(EXAMPLE_EXTRAS), ...Object.entries(REQUEST_EXTRAS)]) {
    const target = converted.components?.schemas?.[name] as Schema | undefined
    if (target !== undefined) target.properties = { ...extra, ...target.properties }
  }
  const doc = mergeAllOf(await $RefParser.dereference(converted, { dereference: { circular: 'ignore' } })) as Schema
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true })
  addFormats(ajv)
  // Formats of Dojo's (and .NET's) the format packages do not know.
  ajv.addFormat('timespan', /^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/)
  for (const f of ['int32', 'int64', 'float', 'double', 'decimal', 'guid', 'uuid4']) if (!ajv.formats[f]) ajv.addFormat(f, true)
  const compiled = new WeakMap<object, ValidateFunction>()
  const validate = (schema: Schema, value: unknown): string[] => {
    let check = compiled.get(schema)
    if (check === undefined) { check = ajv.compile(schema); compiled.set(schema, check) }
    return check(value) ? [] : describeErrors(check.errors ?? [])
  }
  return { file, version: String(raw.info?.version), openapi, operations: operationsOf(doc), schemas: doc.components?.schemas ?? {}, validate }
}

/**
 * Fields Dojo's own response examples carry beyond its schemas, which say
 * `additionalProperties: false`: accepted in responses, as Dojo itself sends them.
 */
export const EXAMPLE_EXTRAS: Record<string, Record<string, Schema>> = {
  // Every intent example: `paymentSource` is how a payment link's intent is told apart.
  PaymentIntent: { paymentSource: { type: 'string' }, paymentEvents: { type: 'array' } },
  // The hosted page's branding and the merchant's trading name, in every intent example.
  PaymentIntentConfigResponse: { branding: { type: 'object' }, tradingName: { type: 'string' } },
  // Every secret example of the webhook operations.
  SubscriptionSecret: { lastUsedAt: { type: 'string', format: 'date-time' } }
}

/**
 * Fields we send beyond Dojo's request schemas, on purpose, each with its reason. Listed in the
 * report: real Dojo could refuse them (its request schemas say `additionalProperties: false`).
 */
export const REQUEST_EXTRAS: Record<string, Record<string, Schema>> = {
  // Every intent Dojo returns carries `paymentSource`; our contract notes (dojo-api.md) say to
  // send "payment-links" for links, and link-issuer relies on it to tell its intents apart.
  CreatePaymentIntentRequest: { paymentSource: { type: 'string', maxLength: 100 } }
}

/**
 * Dojo composes objects with `allOf` whose members each say `additionalProperties: false`
 * (e.g. `PaymentCustomerDetails`, `PagedPaymentIntent`): read literally no object passes both.
 * The intent is one object with the members' properties, so merge them into one.
 */
function mergeAllOf (node: unknown, seen = new Map<object, unknown>()): unknown {
  if (node === null || typeof node !== 'object') return node
  const done = seen.get(node)
  if (done !== undefined) return done
  if (Array.isArray(node)) {
    const out: unknown[] = []
    seen.set(node, out)
    for (const item of node) out.push(mergeAllOf(item, seen))
    return out
  }
  const out: Schema = {}
  seen.set(node, out)
  for (const [k, v] of Object.entries(node)) out[k] = k === 'example' || k === 'examples' ? v : mergeAllOf(v, seen)
  const members = out.allOf as Schema[] | undefined
  if (Array.isArray(members) && members.every((m) => m !== null && typeof m === 'object' && (m.type === 'object' || m.properties !== undefined || m.allOf !== undefined))) {
    const flat = members.map((m) => (m.allOf === undefined ? m : mergeAllOf(m, new Map()) as Schema))
    delete out.allOf
    out.type = 'object'
    out.properties = Object.assign({}, ...flat.map((m) => m.properties ?? {}), out.properties)
    const required = [...new Set(flat.flatMap((m) => (m.required ?? []) as string[]))]
    if (required.length > 0) out.required = required
    if (flat.some((m) => m.additionalProperties === false)) out.additionalProperties = false
  } else if (Array.isArray(members) && members.length === 1) {
    // `allOf: [Money]` with a sibling description: just the member.
    delete out.allOf
    Object.assign(out, { ...members[0], ...out })
  }
  return out
}

function operationsOf (doc: Schema): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries<Schema>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method] as Schema | undefined
      if (op === undefined) continue
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Schema): Parameter => ({ name: p.name, in: p.in, required: p.required === true || p.in === 'path', schema: p.schema }))
      const json = op.requestBody?.content?.['application/json'] ?? op.requestBody?.content?.['application/*+json']
      const security = (op.security ?? doc.security ?? []) as unknown[]
      operations.push({
        method,
        path,
        operationId: op.operationId ?? `${method.toUpperCase()} ${path}`,
        tags: op.tags ?? [],
        parameters,
        authorization: security.length > 0,
        request: json?.schema === undefined ? undefined : { schema: json.schema, required: op.requestBody.required === true, examples: examplesOf(json) },
        responses: Object.fromEntries(Object.entries<Schema>(op.responses ?? {}).map(([status, r]) => {
          const content = r.content?.['application/json'] ?? r.content?.['application/problem+json'] ?? Object.values(r.content ?? {})[0]
          return [status, { schema: content?.schema, examples: content === undefined ? {} : examplesOf(content) }]
        }))
      })
    }
  }
  return operations
}

function examplesOf (media: Schema): Record<string, unknown> {
  if (media.examples !== undefined) return Object.fromEntries(Object.entries<Schema>(media.examples).map(([k, v]) => [k, v?.value]))
  return media.example === undefined ? {} : { example: media.example }
}

function describeErrors (errors: ErrorObject[]): string[] {
  // Inside anyOf (nullable) the "must be null" branch is noise when the other branch speaks.
  const useful = errors.filter((e) => !(e.keyword === 'type' && e.params.type === 'null') && e.keyword !== 'anyOf')
  return [...new Set((useful.length > 0 ? useful : errors).map((e) => {
    const at = e.instancePath === '' ? '(root)' : e.instancePath
    if (e.keyword === 'additionalProperties') return `${at}: unknown property '${String(e.params.additionalProperty)}'`
    return `${at}: ${e.message ?? e.keyword}`
  }))]
}
