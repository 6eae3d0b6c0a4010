import { FormatRegistry } from '@sinclair/typebox'

// One definition of each string format our schemas use. TypeBox's checker knows none, and
// Fastify's Ajv (ajv-formats) accepts values JavaScript cannot read (a leap second `…:60Z`,
// `2026-02-31`): service-kit registers these same functions in Ajv, so a value every validator
// accepts is one `new Date()` and `new URL()` can read, and a bad one is a 400, never a 500.
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const dateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i
const day = /^(\d{4})-(\d{2})-(\d{2})$/

/** A real calendar day (no 2026-02-31). */
function isDay (year: string, month: string, date: string): boolean {
  const d = new Date(Date.UTC(Number(year), Number(month) - 1, Number(date)))
  return d.getUTCFullYear() === Number(year) && d.getUTCMonth() === Number(month) - 1 && d.getUTCDate() === Number(date)
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
