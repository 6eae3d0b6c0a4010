// The spec loader's own rules, without Dojo's documents: these run on a fresh clone too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { camelKeys, matchOperation } from './dojo-contract/checks.js'
import { findSpecDir, loadSpec, toJsonSchema } from './dojo-contract/spec.js'

t.test('toJsonSchema should turn OpenAPI 3.0 nullable and boolean exclusive bounds into JSON Schema', async (t) => {
  t.same(toJsonSchema({ type: 'string', nullable: true, maxLength: 5 }), { type: ['string', 'null'], maxLength: 5 })
  t.same(toJsonSchema({ type: 'string', enum: ['A'], nullable: true }), { type: ['string', 'null'], enum: ['A', null] })
  t.same(toJsonSchema({ nullable: true, description: 'd', oneOf: [{ $ref: '#/x' }] }), { description: 'd', anyOf: [{ oneOf: [{ $ref: '#/x' }] }, { type: 'null' }] })
  t.same(toJsonSchema({ type: 'integer', minimum: 0, exclusiveMinimum: true }), { type: 'integer', exclusiveMinimum: 0 })
  t.same(toJsonSchema({ properties: { nullable: { type: 'boolean' } } }), { properties: { nullable: { type: 'boolean' } } }, 'a property named nullable is a property')
})

t.test('findSpecDir should use DOJO_OPENAPI_DIR when set and say where it looked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dojo-openapi-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.same(findSpecDir({ DOJO_OPENAPI_DIR: dir }), { dir: undefined, tried: [dir] }, 'a folder without specs is not found')
  writeFileSync(join(dir, 'dojo-2026-02-27.json'), '{}')
  t.equal(findSpecDir({ DOJO_OPENAPI_DIR: dir }).dir, dir)
  t.equal(findSpecDir({}).tried.length, 2, 'beside the clone, and one level further up')
})

t.test('loadSpec should validate with nullable fields, merged allOf objects and matched paths', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dojo-openapi-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'dojo-2026-02-27.json')
  writeFileSync(file, JSON.stringify({
    openapi: '3.0.0',
    info: { version: '2026-02-27' },
    paths: {
      '/things/{id}': { get: { operationId: 'Things_Get', responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } } } } },
      '/things/search': { get: { operationId: 'Things_Search', responses: {} } }
    },
    components: {
      schemas: {
        Base: { type: 'object', additionalProperties: false, properties: { id: { type: 'string' } } },
        Thing: { allOf: [{ $ref: '#/components/schemas/Base' }, { type: 'object', additionalProperties: false, properties: { note: { type: 'string', nullable: true } } }] }
      }
    }
  }))
  const spec = await loadSpec(file)
  const thing = spec.operations.find((o) => o.operationId === 'Things_Get')!.responses['200']!.schema!
  t.same(spec.validate(thing, { id: 'a', note: null }), [])
  t.match(spec.validate(thing, { id: 'a', other: 1 }), [/unknown property 'other'/])
  t.equal(matchOperation(spec, 'GET', '/things/search')?.operation.operationId, 'Things_Search', 'a literal segment wins over a parameter')
  t.same(matchOperation(spec, 'GET', '/things/t_1')?.params, { id: 't_1' })
  t.same(camelKeys({ Id: 'a', Note: 'n' }, thing), { id: 'a', note: 'n' })
})
