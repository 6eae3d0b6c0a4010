import { FormatRegistry } from '@sinclair/typebox'

// One definition of each string format our schemas use. TypeBox's checker knows none, and
// Fastify's Ajv (ajv-formats) accepts values JavaScript cannot read (a leap second `…:60Z`,
// `2026-02-31`): service-kit registers these same functions in Ajv, so a value every validator
// accepts is one `new Date()` and `new URL()` can read, and a bad one is a 400, never a 500.
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const dateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i
const day = /^(\d{4})-(\d{2})-(\d{2})$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * A real calendar day (no 2026-02-31), by arithmetic: every timestamp an event carries is checked
 * here, so no Date is built for it. Years before 100 are refused, as they always were here
 * (Date.UTC reads them as 19xx).
 */
function isDay (year: string, month: string, date: string): boolean {
  const y = Number(year)
  const m = Number(month)
  const d = Number(date)
  if (y < 100 || m < 1 || m > 12 || d < 1) return false
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!)
}

/** The string formats of our schemas, by name: each a predicate over the string. */
export const stringFormats: Readonly<Record<string, (value: string) => boolean>> = Object.freeze({
  uuid: (value: string) => uuid.test(value),
  'date-time': (value: string) => {
    const m = dateTime.exec(value)
    return m !== null && isDay(m[1]!, m[2]!, m[3]!) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60 && !Number.isNaN(Date.parse(value))
  },
  date: (value: string) => {
    const m = day.exec(value)
    return m !== null && isDay(m[1]!, m[2]!, m[3]!)
  },
  email: (value: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value),
  // Absolute, parseable, and without whitespace or control characters (which URL would encode).
  // eslint-disable-next-line no-control-regex
  uri: (value: string) => !/[\s\u0000-\u001f\u007f]/.test(value) && URL.canParse(value)
})

for (const [name, check] of Object.entries(stringFormats)) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check)
}
