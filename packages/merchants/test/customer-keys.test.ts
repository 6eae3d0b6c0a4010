import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { derivedCustomerId } from '@paylinks/contracts'
import { createCustomerKeys, createSecretBox, eraseCustomer } from '../src/index.js'
import { createDb } from './helpers.js'

const box = createSecretBox([randomBytes(32).toString('base64')])
const ann = { email: 'Ann@Example.com', phone: '+44 7700 900123', name: 'Ann Example', metadata: { address: '1 High St' } }

t.test('customer keys should seal personal data out of sight and open it until the customer is erased', async (t) => {
  const db = await createDb(t)
  const keys = createCustomerKeys({ db, box })
  // A second replica that remembers nothing: it sees the erasure at once.
  const other = createCustomerKeys({ db, box, cacheMs: 0 })
  const [a, b, c] = await Promise.all([
    keys.seal('mer_shop01', 'lnk_aaaaaaaaaaaa', ann),
    keys.seal('mer_shop01', 'lnk_bbbbbbbbbbbb', { ...ann, email: 'ann@example.com ' }),
    keys.seal('mer_shop01', 'lnk_cccccccccccc', { name: 'Bob' })
  ])
  t.ok(a !== undefined && b !== undefined && c !== undefined)
  t.equal(a!.id, b!.id, 'one customer for one e-mail, however it is written')
  t.not(c!.id, a!.id, 'a customer with no e-mail or phone is the link\'s own')
  for (const plain of ['Ann', 'example.com', '7700', 'High St']) t.notOk(JSON.stringify([a, b]).includes(plain), `no ${plain} in the sealed form`)
  const rows = await db.selectFrom('pii_keys').selectAll().execute()
  t.equal(rows.length, 2)
  t.ok(rows.every((r) => r.sealed_key !== null && r.sealed_key.startsWith('v1.')), 'the keys are stored sealed')
  t.same(await other.open('mer_shop01', a!), ann)
  t.same(await keys.open('mer_shop02', a!), { erased: true }, 'another merchant opens nothing')
  t.equal(await keys.seal('mer_shop01', 'lnk_dddddddddddd', {}), undefined, 'nothing personal, nothing sealed')

  t.equal(await eraseCustomer(db, 'mer_shop02', { email: 'ann@example.com' }), undefined, 'another merchant erases nothing')
  t.same(await other.open('mer_shop01', a!), ann)
  const erasure = await eraseCustomer(db, 'mer_shop01', { email: 'ANN@example.com' })
  t.same(erasure?.customerIds, [a!.id])
  keys.forget(erasure!.customerIds)
  t.same(await keys.open('mer_shop01', a!), { erased: true })
  t.same(await other.open('mer_shop01', b!), { erased: true }, 'every link of the customer')
  t.same(await other.open('mer_shop01', c!), { name: 'Bob' }, 'other customers keep theirs')
  const row = await db.selectFrom('pii_keys').selectAll().where('subject_id', '=', a!.id).executeTakeFirstOrThrow()
  t.match(row, { sealed_key: null, lookup: null, erased_at: Date })
  const again = await keys.seal('mer_shop01', 'lnk_eeeeeeeeeeee', ann)
  t.not(again!.id, a!.id, 'a later link of the same e-mail starts a new customer')
  t.same(await eraseCustomer(db, 'mer_shop01', { customerId: a!.id }).then((e) => e?.customerIds), [a!.id], 'erasing again by id answers the same customer')
})

t.test('eraseCustomer should hide v1 links recorded in clear, by the id derived from them', async (t) => {
  const db = await createDb(t)
  const keys = createCustomerKeys({ db, box, cacheMs: 0 })
  const linkId = 'lnk_v1v1v1v1v1v1'
  const data = { linkId, merchantId: 'mer_shop01', reference: 'r', amount: { value: 100, currencyCode: 'GBP' }, expiresAt: new Date().toISOString(), sendEmail: false, source: 'api', customer: { email: 'old@example.com' } }
  await sql`INSERT INTO es_events (position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at)
    VALUES (1, ${randomUUID()}, ${`payment-link.${linkId}`}, 1, 'payment-link.requested', 1, ${JSON.stringify(data)}::jsonb, '{"correlationId":"c"}'::jsonb, now())`.execute(db)
  const ref = { id: derivedCustomerId('mer_shop01', linkId, { email: 'old@example.com' }), plain: { email: 'old@example.com' } }
  t.same(await keys.open('mer_shop01', ref), { email: 'old@example.com' }, 'readable until erased')
  const erasure = await eraseCustomer(db, 'mer_shop01', { email: 'Old@example.com' })
  t.same(erasure?.customerIds, [ref.id])
  t.equal(erasure?.links, 1)
  t.same(await keys.open('mer_shop01', ref), { erased: true })
})
