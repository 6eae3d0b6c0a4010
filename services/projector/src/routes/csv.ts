import { stringify } from 'csv-stringify/sync'

// A spreadsheet runs a cell that begins with one of these as a formula (CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/
const ESCAPED = /^'[=+\-@\t\r]/

/** A string cell as OWASP advises: one that would start a formula gets a leading single quote. */
export function escapeFormula (value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value
}

/**
 * Rows as CSV with a header: amount objects become `<key>Value` and `<key>Currency` columns,
 * string cells that would start a formula are escaped and quoted, numbers stay numbers.
 */
export function toCsv (rows: ReadonlyArray<Record<string, unknown>>): string {
  const flat = rows.map((row) => Object.fromEntries(Object.entries(row).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && 'value' in v && 'currencyCode' in v ? [[`${k}Value`, v.value], [`${k}Currency`, v.currencyCode]] : [[k, v]])))
  const columns = flat[0] === undefined ? [] : Object.keys(flat[0])
  return stringify(flat, { header: true, columns, quoted_match: ESCAPED, cast: { boolean: (b) => String(b), string: escapeFormula } })
}
