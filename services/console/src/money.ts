/** Minor-unit digits of a currency (2 for GBP, 0 for JPY), as Intl knows them. */
export function minorDigits (currencyCode: string): number {
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency: currencyCode }).resolvedOptions().maximumFractionDigits ?? 2
  } catch {
    return 2
  }
}

/** `1250 GBP` → `12.50`, by string arithmetic on the integer: no float ever holds money. */
export function formatMinor (value: number, currencyCode: string): string {
  const digits = minorDigits(currencyCode)
  const negative = value < 0
  const text = String(Math.abs(Math.trunc(value))).padStart(digits + 1, '0')
  const whole = digits === 0 ? text : text.slice(0, -digits)
  return `${negative ? '-' : ''}${whole}${digits === 0 ? '' : `.${text.slice(-digits)}`}`
}
