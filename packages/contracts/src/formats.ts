import { FormatRegistry } from '@sinclair/typebox'

// One definition of each string format our schemas use. TypeBox's checker knows none, and
// Fastify's Ajv (ajv-formats) accepts values JavaScript cannot read (a leap second `…:60Z`,
// `2026-02-31`): service-kit registers these same functions in Ajv, so a value every validator
// accepts is one `new Date()` and `new URL()` can read, and a bad one is a 400, never a 500.
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// The shape only: the fields sit at fixed offsets, read below without capture groups (every
// stored event's timestamps are checked when it is read, so this runs a million times in a rebuild).
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i
const day = /^\d{4}-\d{2}-\d{2}$/
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** The number written by the ASCII digits of `s` from `from` to `to` (exclusive). */
function digits (s: string, from: number, to: number): number {
  let n = 0
  for (let i = from; i < to; i++) n = n * 10 + s.charCodeAt(i) - 48
  return n
}

/**
 * A real calendar day (no 2026-02-31). Years below 100 are refused, as the `new Date(Date.UTC(…))`
 * round trip this replaces refused them (Date.UTC reads them as 19xx).
 */
function isDay (year: number, month: number, date: number): boolean {
  if (year < 100 || month < 1 || month > 12 || date < 1) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  return date <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)
}

/** The string formats of our schemas, by name: each a predicate over the string. */
export const stringFormats: Readonly<Record<string, (value: string) => boolean>> = Object.freeze({
  uuid: (value: string) => uuid.test(value),
  'date-time': (value: string) => {
    if (!dateTime.test(value)) return false
    if (!isDay(digits(value, 0, 4), digits(value, 5, 7), digits(value, 8, 10)) || digits(value, 11, 13) > 23 || digits(value, 14, 16) > 59 || digits(value, 17, 19) > 59) return false
    // Date.parse refuses only an offset beyond ±23:59 here, so a UTC time needs no parse.
    const last = value.charCodeAt(value.length - 1)
    return last === 90 || last === 122 || !Number.isNaN(Date.parse(value)) // Z, z
  },
  date: (value: string) => day.test(value) && isDay(digits(value, 0, 4), digits(value, 5, 7), digits(value, 8, 10)),
  email: (value: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value),
  // Absolute, parseable, and without whitespace or control characters (which URL would encode).
  // eslint-disable-next-line no-control-regex
  uri: (value: string) => !/[\s\u0000-\u001f\u007f]/.test(value) && URL.canParse(value)
})

for (const [name, check] of Object.entries(stringFormats)) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check)
}
