import t from 'tap'
import { escapeFormula, toCsv } from '../../src/routes/csv.js'

t.test('toCsv should escape and quote cells that a spreadsheet would run as formulas', async (t) => {
  const csv = toCsv([
    { reference: '=HYPERLINK("http://x","y")', description: '+44 20 7946 0000', note: '-2+3', who: '@SUM(A1)', tab: '\tx', cr: '\rx', plain: 'order-1', amount: { value: 1250, currencyCode: 'GBP' }, delta: -5, paid: true }
  ])
  const [header, row] = csv.trimEnd().split('\n')
  t.equal(header, 'reference,description,note,who,tab,cr,plain,amountValue,amountCurrency,delta,paid')
  t.equal(row, '"\'=HYPERLINK(""http://x"",""y"")","\'+44 20 7946 0000","\'-2+3","\'@SUM(A1)","\'\tx","\'\rx",order-1,1250,GBP,-5,true',
    'each formula-like string starts with a quote inside a quoted cell; numbers stay numbers')
})

t.test('escapeFormula should leave ordinary strings alone', async (t) => {
  t.equal(escapeFormula('ref-=1'), 'ref-=1')
  t.equal(escapeFormula(''), '')
  t.equal(escapeFormula('=1'), '\'=1')
})
