import t from 'tap'
import fc from 'fast-check'
import { formatMoney, looksLikeEmail, minorDigits, toMinorUnits } from '../src/money.js'

t.test('toMinorUnits should turn typed amounts into minor units by the currency\'s decimals', async (t) => {
  t.equal(toMinorUnits('12.50', 'GBP'), 1250)
  t.equal(toMinorUnits('12.5', 'GBP'), 1250)
  t.equal(toMinorUnits('12', 'GBP'), 1200)
  t.equal(toMinorUnits('0.29', 'GBP'), 29, 'no float on the way (0.29 * 100 is 28.999…)')
  t.equal(toMinorUnits(' 7.10 ', 'EUR'), 710)
  t.equal(toMinorUnits('1200', 'JPY'), 1200)
  t.equal(toMinorUnits('1.234', 'BHD'), 1234)
  for (const bad of ['', '1,000', '1e3', '-1', '12.345', '.5', '12.', 'abc', '1 000']) {
    if (bad === '12.') t.equal(toMinorUnits(bad, 'GBP'), 1200, '"12." reads as 12')
    else t.equal(toMinorUnits(bad, 'GBP'), null, `"${bad}" is refused`)
  }
  t.equal(toMinorUnits('1.5', 'JPY'), null, 'a currency without decimals takes none')
})

t.test('toMinorUnits should invert the decimal text of any amount', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 99_999_999_999 }), (minor) => {
    const s = String(minor).padStart(3, '0')
    return toMinorUnits(`${s.slice(0, -2)}.${s.slice(-2)}`, 'GBP') === minor
  }))
  t.pass()
})

t.test('formatMoney should write minor units in the currency, without float rounding', async (t) => {
  t.equal(minorDigits('GBP'), 2)
  t.equal(minorDigits('JPY'), 0)
  t.match(formatMoney(1250, 'GBP'), /12\.50/)
  t.match(formatMoney(5, 'GBP'), /0\.05/)
  t.match(formatMoney(1200, 'JPY'), /1,?200/)
  t.notMatch(formatMoney(1200, 'JPY'), /\./)
  t.match(formatMoney(900719925474099, 'GBP'), /9,?007,?199,?254,?740\.99/, 'beyond float-exact cents')
})

t.test('looksLikeEmail should take the usual shape and refuse the obvious mistakes', async (t) => {
  t.ok(looksLikeEmail('sam@shop.example'))
  for (const bad of ['sam', 'sam@', 'sam@shop', '@shop.example', 'sam @shop.example']) t.notOk(looksLikeEmail(bad), bad)
})
