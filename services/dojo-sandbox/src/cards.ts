/** What the customer typed. Lives only for the length of a request; never stored or logged. */
export interface CardInput {
  cardNumber: string
  expiry: string
  cvv: string
  cardName?: string | undefined
}

export type CardField = 'cardNumber' | 'expiry' | 'cvv' | 'cardName'

/** The stored, non-sensitive view of a card. */
export interface MaskedCard {
  cardNumber: string
  last4: string
  expiryDate: string
  cardType: string
  cardName: string
}

export type TestCardOutcome = 'success' | 'challenge' | 'declined'

interface TestCard { cvv: string, outcome: TestCardOutcome }

// Dojo's published sandbox cards; expiry 12/29 (or the legacy 12/24).
const TEST_CARDS: Record<string, TestCard> = {
  5200000000001005: { cvv: '020', outcome: 'success' },
  5200000000001096: { cvv: '020', outcome: 'challenge' },
  4456530000001013: { cvv: '341', outcome: 'declined' }
}

export const CHALLENGE_CODE = '1234'

/** The test cards as the checkout page's sandbox banner lists them. */
export const TEST_CARD_LIST: Array<{ number: string, expiry: string, cvv: string, outcome: TestCardOutcome }> = Object.entries(TEST_CARDS)
  .map(([number, card]) => ({ number: number.replace(/(\d{4})(?=\d)/g, '$1 '), expiry: '12/29', cvv: card.cvv, outcome: card.outcome }))

export function normaliseNumber (input: string): string {
  return input.replace(/[\s-]/g, '')
}

export function luhnValid (digits: string): boolean {
  if (!/^\d{12,19}$/.test(digits)) return false
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9 }
    sum += d
  }
  return sum % 10 === 0
}

/** Parse MM/YY (also MM/YYYY, MMYY) to month and full year, or undefined. */
export function parseExpiry (input: string): { month: number, year: number } | undefined {
  const m = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})\s*$/.exec(input)
  if (m === null) return undefined
  const month = Number(m[1])
  const year = m[2]!.length === 2 ? 2000 + Number(m[2]) : Number(m[2])
  if (month < 1 || month > 12) return undefined
  return { month, year }
}

export function expiryInFuture (expiry: { month: number, year: number }, now: Date): boolean {
  // A card is valid through the last day of its expiry month.
  return expiry.year > now.getUTCFullYear() || (expiry.year === now.getUTCFullYear() && expiry.month >= now.getUTCMonth() + 1)
}

/**
 * Check the form the way a checkout page does. Returns an error message per bad field;
 * `legacyExpiry` (e.g. "12/24") is accepted for test cards even though it is past.
 */
export function validateCard (card: CardInput, now: Date, legacyExpiry: string): Partial<Record<CardField, string>> {
  const errors: Partial<Record<CardField, string>> = {}
  const digits = normaliseNumber(card.cardNumber)
  if (digits === '') errors.cardNumber = 'Enter your card number.'
  else if (!luhnValid(digits)) errors.cardNumber = 'Enter a valid card number.'
  const expiry = parseExpiry(card.expiry)
  if (card.expiry.trim() === '') errors.expiry = 'Enter the expiry date.'
  else if (expiry === undefined) errors.expiry = 'Enter the expiry date as MM/YY.'
  else if (!expiryInFuture(expiry, now)) {
    const legacy = parseExpiry(legacyExpiry)
    const isLegacy = legacy !== undefined && TEST_CARDS[digits] !== undefined && legacy.month === expiry.month && legacy.year === expiry.year
    if (!isLegacy) errors.expiry = 'This card has expired.'
  }
  if (card.cvv.trim() === '') errors.cvv = 'Enter the security code.'
  else if (!/^\d{3,4}$/.test(card.cvv.trim())) errors.cvv = 'Enter the 3 or 4 digit security code.'
  if (card.cardName !== undefined && card.cardName.trim() === '') errors.cardName = 'Enter the name on the card.'
  return errors
}

/**
 * What the sandbox acquirer says. A test card with the wrong security code, or any card
 * that is not a test card, is declined, as an unknown card would be in Dojo's sandbox.
 */
export function cardOutcome (card: CardInput): TestCardOutcome {
  const test = TEST_CARDS[normaliseNumber(card.cardNumber)]
  if (test === undefined || test.cvv !== card.cvv.trim()) return 'declined'
  return test.outcome
}

/** First six, last four, as Dojo shows it: 52000000****1005 keeps 8 + 4 of 16 digits. */
export function maskCard (card: CardInput): MaskedCard {
  const digits = normaliseNumber(card.cardNumber)
  const expiry = parseExpiry(card.expiry)
  const last4 = digits.slice(-4)
  return {
    cardNumber: `${digits.slice(0, digits.length - 8)}****${last4}`,
    last4,
    expiryDate: expiry === undefined ? '' : lastDayOfMonth(expiry),
    cardType: digits.startsWith('4') ? 'VISA' : /^5[1-5]|^2[2-7]/.test(digits) ? 'MASTERCARD' : 'UNKNOWN',
    cardName: card.cardName?.trim() ?? ''
  }
}

function lastDayOfMonth ({ month, year }: { month: number, year: number }): string {
  const day = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
}
