import { ServiceError, ServiceErrorCodes } from './errors.js'

/** What a cursor holds: the sort key of the last row served, then its id. */
export type CursorKey = ReadonlyArray<string | number>
type Kind = 'string' | 'number' | 'date-time'

/**
 * The one page cursor of every API: opaque base64url of a JSON array, the (sort key, id) of the
 * last row served, so the next page is `WHERE (key, id) < (…)`: stable under inserts.
 */
export function encodeCursor (key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/**
 * Read a cursor `encodeCursor` made, each element checked against `kinds`. Anything else is a
 * 400 problem (`SVC_BAD_CURSOR`) naming the parameter, never a query that fails.
 */
export function decodeCursor (cursor: string, kinds: readonly Kind[], path = '/querystring/cursor'): Array<string | number> {
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {}
  const fits = Array.isArray(key) && key.length === kinds.length && kinds.every((kind, i) => {
    const v: unknown = key[i]
    if (kind === 'number') return typeof v === 'number' && Number.isFinite(v)
    return typeof v === 'string' && (kind === 'string' || !Number.isNaN(Date.parse(v)))
  })
  if (!fits) {
    throw new ServiceError(ServiceErrorCodes.badCursor, 400, `${path} is not a cursor from this API: pass nextCursor from the previous page.`, { extra: { errors: [{ path, message: 'is not a cursor from this API' }] } })
  }
  return key as Array<string | number>
}
