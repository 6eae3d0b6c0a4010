import t from 'tap'
import { signWebhookBody, verifyWebhookSignature } from '../src/index.js'

// Dojo's published test vector.
const body = '{"id":"evt_hnnHxIKR_Uy6bhZCusCltw","event":"payment_intent.created","accountId":"acc_test","createdAt":"2022-02-01T13:07:41.8667859Z","data":{"paymentIntentId":"pi_vpwd4ooAPEqyNAQe4z89WQ","paymentStatus":"Created","captureMode":"Auto"}}'
const secret = 'PDYkJQq6sESYHp_zJuTTBQ'
const header = 'sha256=4B-49-F8-FE-25-A7-E6-7D-00-4F-A7-9C-F8-0B-63-00-C7-77-B4-F2-2D-E5-E1-22-84-FA-04-18-50-A1-76-FD'

t.test('verifyWebhookSignature should verify the published test vector', async (t) => {
  t.ok(verifyWebhookSignature(body, header, [secret]))
  t.ok(verifyWebhookSignature(Buffer.from(body), header, [secret]), 'as raw bytes too')
  t.equal(signWebhookBody(body, secret), header, 'signWebhookBody writes the same header')
})

t.test('verifyWebhookSignature should accept any of the given secrets during a rotation', async (t) => {
  const rotated = 'new-secret-after-rotation'
  const signedWithNew = signWebhookBody(body, rotated)
  t.ok(verifyWebhookSignature(body, signedWithNew, [secret, rotated]))
  t.ok(verifyWebhookSignature(body, header, [rotated, secret]))
  t.notOk(verifyWebhookSignature(body, signedWithNew, [secret]), 'not once the new one is dropped')
})

t.test('verifyWebhookSignature should refuse a changed body, a wrong secret and malformed headers', async (t) => {
  t.notOk(verifyWebhookSignature(body.replace('Created', 'Captured'), header, [secret]))
  t.notOk(verifyWebhookSignature(body + ' ', header, [secret]), 'the raw bytes are signed, not the JSON value')
  t.notOk(verifyWebhookSignature(body, header, ['PDYkJQq6sESYHp_zJuTTBq']))
  t.notOk(verifyWebhookSignature(body, header, []))
  t.notOk(verifyWebhookSignature(body, undefined, [secret]))
  t.notOk(verifyWebhookSignature(body, '', [secret]))
  t.notOk(verifyWebhookSignature(body, header.replace('sha256=', 'sha1='), [secret]))
  t.notOk(verifyWebhookSignature(body, header.slice(0, -3), [secret]), 'a truncated digest')
  t.notOk(verifyWebhookSignature(body, 'sha256=zz', [secret]))
  t.notOk(verifyWebhookSignature(body, `${header}-00`, [secret]), 'a digest too long')
  t.notOk(verifyWebhookSignature(body, header.replace('4B', '4G'), [secret]), 'a digit that is not hex')
})

t.test('verifyWebhookSignature should read the digest however its hex is written, and any value of a list', async (t) => {
  const digits = header.slice('sha256='.length)
  t.ok(verifyWebhookSignature(body, `sha256=${digits.replaceAll('-', '')}`, [secret]), 'without the dashes')
  t.ok(verifyWebhookSignature(body, `SHA256=${digits.toLowerCase()}`, [secret]), 'in lower case, the prefix in upper')
  t.ok(verifyWebhookSignature(body, `  ${header} `, [secret]), 'with spaces around it')
  t.ok(verifyWebhookSignature(body, `sha1=AB, ${signWebhookBody(body, 'other')},${header}`, [secret]), 'one value of several')
  t.notOk(verifyWebhookSignature(body, `sha1=AB, ${signWebhookBody(body, 'other')}`, [secret]), 'none of several')
})
