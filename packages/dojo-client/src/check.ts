import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'

// Keyed by the schema object: callers pass module-level constants, so each compiles once.
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>()

/** The schema's compiled checker (TypeBox's TypeCompiler), built on first use. */
export function checker<S extends TSchema> (schema: S): TypeCheck<S> {
  let check = checkers.get(schema) as TypeCheck<S> | undefined
  if (check === undefined) {
    check = TypeCompiler.Compile(schema)
    checkers.set(schema, check)
  }
  return check
}

/** The first `limit` problems of a value that failed its check, as `path: message`. */
export function problems (check: TypeCheck<TSchema>, value: unknown, limit: number): string[] {
  const found: string[] = []
  for (const e of check.Errors(value)) {
    if (found.length === limit) break
    found.push(`${e.path || '/'}: ${e.message}`)
  }
  return found
}
