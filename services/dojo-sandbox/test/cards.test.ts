import t from 'tap'
import { cardOutcome, luhnValid, maskCard, parseExpiry, validateCard } from '../src/cards.js'

const now = new Date('2026-06-15T00:00:00Z')

t.test('luhnValid should accept the test cards and refuse a changed digit', async (t) => {
  for (const n of ['5200000000001005', '5200000000001096', '4456530000001013']) t.ok(luhnValid(n), n)
  t.notOk(luhnValid('5200000000001006'))
  t.notOk(luhnValid('1234'))
})

t.test('validateCard should name each bad field and accept the legacy 12/24 only for test cards', async (t) => {
  t.same(validateCard({ cardNumber: '', expiry: '', cvv: '', cardName: '' }, now, '12/24'), {
    cardNumber: 'Enter your card number.', expiry: 'Enter the expiry date.', cvv: 'Enter the security code.', cardName: 'Enter the name on the card.'
  })
  t.same(validateCard({ cardNumber: '4111 1111 1111 1112', expiry: '13/30', cvv: '12', cardName: 'A' }, now, '12/24'), {
    cardNumber: 'Enter a valid card number.', expiry: 'Enter the expiry date as MM/YY.', cvv: 'Enter the 3 or 4 digit security code.'
  })
  t.same(validateCard({ cardNumber: '5200 0000 0000 1005', expiry: '12/24', cvv: '020', cardName: 'A' }, now, '12/24'), {}, 'legacy expiry for a test card')
  t.same(validateCard({ cardNumber: '4111 1111 1111 1111', expiry: '12/24', cvv: '123', cardName: 'A' }, now, '12/24'), { expiry: 'This card has expired.' })
  t.same(validateCard({ cardNumber: '5200 0000 0000 1005', expiry: '05/26', cvv: '020', cardName: 'A' }, now, ''), { expiry: 'This card has expired.' })
  t.same(validateCard({ cardNumber: '5200 0000 0000 1005', expiry: '06/26', cvv: '020', cardName: 'A' }, now, ''), {}, 'valid through the end of its month')
})

t.test('cardOutcome should follow Dojo\'s test card table', async (t) => {
  t.equal(cardOutcome({ cardNumber: '5200000000001005', expiry: '12/29', cvv: '020' }), 'success')
  t.equal(cardOutcome({ cardNumber: '5200000000001096', expiry: '12/29', cvv: '020' }), 'challenge')
  t.equal(cardOutcome({ cardNumber: '4456530000001013', expiry: '12/29', cvv: '341' }), 'declined')
  t.equal(cardOutcome({ cardNumber: '5200000000001005', expiry: '12/29', cvv: '999' }), 'declined', 'wrong security code')
  t.equal(cardOutcome({ cardNumber: '4111111111111111', expiry: '12/29', cvv: '123' }), 'declined', 'not a test card')
})

t.test('maskCard should keep only the first eight and last four digits of sixteen', async (t) => {
  t.match(maskCard({ cardNumber: '5200 0000 0000 1005', expiry: '12/29', cvv: '020', cardName: ' Ann ' }), { cardNumber: '52000000****1005', last4: '1005', expiryDate: '2029-12-31', cardType: 'MASTERCARD', cardName: 'Ann' })
  t.same(parseExpiry('1/2030'), { month: 1, year: 2030 })
})
