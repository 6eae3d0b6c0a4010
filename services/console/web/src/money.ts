// Amounts typed by people become integer minor units by string arithmetic: a float would turn
// 0.29 into 28.999… minor units.

/** How many decimals a currency's minor unit has (GBP 2, JPY 0, BHD 3), as Intl knows it. */
export function minorDigits (currencyCode: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency: currencyCode }).resolvedOptions().maximumFractionDigits ?? 2
}

/**
 * "12.50" -> 1250 for a two-decimal currency; null when the text is not a plain positive amount
 * with at most the currency's decimals ("1,000", "1e3", "-1" and "0.001" are refused).
 */
export function toMinorUnits (text: string, currencyCode: string): number | null {
  const digits = minorDigits(currencyCode)
  const match = /^(\d{1,12})(?:\.(\d*))?$/.exec(text.trim())
  if (match === null) return null
  const fraction = match[2] ?? ''
  if (fraction.length > digits) return null
  const minor = Number(match[1]! + fraction.padEnd(digits, '0'))
  return Number.isSafeInteger(minor) ? minor : null
}

/** Minor units as the currency is written, in the browser's locale. */
export function formatMoney (minor: number, currencyCode: string): string {
  const digits = minorDigits(currencyCode)
  const sign = minor < 0 ? '-' : ''
  const s = String(Math.abs(minor)).padStart(digits + 1, '0')
  const decimal = digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`
  // Intl takes the decimal string as is (no float rounding in between).
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: currencyCode }).format(`${sign}${decimal}` as unknown as number)
}

/** The e-mail shape the form checks before asking the server (which decides). */
export function looksLikeEmail (text: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text.trim())
}
