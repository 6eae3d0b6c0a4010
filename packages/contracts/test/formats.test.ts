import t from 'tap'
import fc from 'fast-check'
import { stringFormats } from '../src/formats.js'

// The definitions the faster predicates replaced (a regex with captures, a Date round trip and
// Date.parse for every value): the new ones must answer exactly as they did.
const reference = {
  dateTime: /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i,
  day: /^(\d{4})-(\d{2})-(\d{2})$/,
  isDay (year: string, month: string, date: string): boolean {
    const d = new Date(Date.UTC(Number(year), Number(month) - 1, Number(date)))
    return d.getUTCFullYear() === Number(year) && d.getUTCMonth() === Number(month) - 1 && d.getUTCDate() === Number(date)
  },
  'date-time' (value: string): boolean {
    const m = this.dateTime.exec(value)
    return m !== null && this.isDay(m[1]!, m[2]!, m[3]!) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60 && !Number.isNaN(Date.parse(value))
  },
  date (value: string): boolean {
    const m = this.day.exec(value)
    return m !== null && this.isDay(m[1]!, m[2]!, m[3]!)
  }
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0')
// Values near the format, where a mistake would hide: every field a little beyond its range.
const nearDay = fc.tuple(fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 99, 100, 1900, 2000, 2024, 2100)), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
  .map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`)
const nearDateTime = fc.tuple(
  nearDay, fc.constantFrom('T', 't', ' '), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }),
  fc.oneof(fc.constant(''), fc.stringMatching(/^\.\d{0,30}$/)),
  fc.oneof(fc.constantFrom('Z', 'z', '', '+00:00'), fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 70 })).map(([s, h, m]) => `${s}${pad(h, 2)}:${pad(m, 2)}`))
).map(([d, sep, h, mi, s, f, z]) => `${d}${sep}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${f}${z}`)

t.test('the date-time format should accept exactly what the reference definition accepted', async (t) => {
  for (const value of ['2026-02-29T00:00:00Z', '2024-02-29T23:59:59.999Z', '0099-01-01T00:00:00Z', '0100-01-01T00:00:00Z', '2026-01-01T00:00:00+23:59', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00.Z', '2026-01-01T00:00:60Z']) {
    t.equal(stringFormats['date-time']!(value), reference['date-time'](value), value)
  }
  fc.assert(fc.property(fc.oneof(nearDateTime, fc.string()), (value) => stringFormats['date-time']!(value) === reference['date-time'](value)), { numRuns: 20_000 })
})

t.test('the date format should accept exactly what the reference definition accepted', async (t) => {
  for (const value of ['2026-02-29', '2024-02-29', '1900-02-29', '2000-02-29', '0099-12-31', '2026-13-01', '2026-00-10']) {
    t.equal(stringFormats.date!(value), reference.date(value), value)
  }
  fc.assert(fc.property(fc.oneof(nearDay, fc.string()), (value) => stringFormats.date!(value) === reference.date(value)), { numRuns: 20_000 })
})
