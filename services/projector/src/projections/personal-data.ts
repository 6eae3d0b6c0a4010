// Analysts read the projections (the `analytics` views); customers' e-mail, phone and names stay
// in the event log. Structured personal fields are never projected; free text that may echo them
// (a Dojo error quoting the request) goes through here first.

const EMAIL = /[^\s@<>()[\]"',;:]+@[^\s@<>()[\]"',;:]+/g
// Seven or more digits with the separators people write numbers with: phone numbers, not amounts.
const PHONE = /\+?\(?\d[\d ().-]{5,}\d/g
const DIGITS_IN_A_PHONE = 7
const ISO_DATE = /^\d{4}-\d\d-\d\d$/

/** `text` with anything shaped like an e-mail address or a phone number replaced by a mask. */
export function maskContactDetails (text: string): string {
  return text
    .replace(EMAIL, '[e-mail]')
    .replace(PHONE, (match) => match.replace(/\D/g, '').length >= DIGITS_IN_A_PHONE && !ISO_DATE.test(match) ? '[phone]' : match)
}
