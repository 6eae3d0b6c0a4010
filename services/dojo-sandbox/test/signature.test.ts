import t from 'tap'
import { signWebhook, verifyWebhook } from '../src/signature.js'

// Dojo's published test vector (dojo-api.md, from Dojo.Net's WebhookPayloadUtilsTests).
const BODY = '{"id":"evt_hnnHxIKR_Uy6bhZCusCltw","event":"payment_intent.created","accountId":"acc_test","createdAt":"2022-02-01T13:07:41.8667859Z","data":{"paymentIntentId":"pi_vpwd4ooAPEqyNAQe4z89WQ","paymentStatus":"Created","captureMode":"Auto"}}'
const SECRET = 'PDYkJQq6sESYHp_zJuTTBQ'
const SIGNATURE = 'sha256=4B-49-F8-FE-25-A7-E6-7D-00-4F-A7-9C-F8-0B-63-00-C7-77-B4-F2-2D-E5-E1-22-84-FA-04-18-50-A1-76-FD'

t.test('signWebhook should reproduce Dojo\'s published test vector', async (t) => {
  t.equal(signWebhook(BODY, SECRET), SIGNATURE)
  t.equal(signWebhook(Buffer.from(BODY), SECRET), SIGNATURE, 'raw bytes sign the same')
})

t.test('verifyWebhook should accept any given secret and refuse a changed body or secret', async (t) => {
  t.ok(verifyWebhook(BODY, SIGNATURE, ['other', SECRET]))
  t.notOk(verifyWebhook(BODY.replace('Created', 'Captured'), SIGNATURE, [SECRET]))
  t.notOk(verifyWebhook(BODY, SIGNATURE, ['wrong']))
  t.notOk(verifyWebhook(BODY, 'sha256=00', [SECRET]))
})
