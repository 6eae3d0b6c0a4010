import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import {
  authenticateApiKey, createApiKey, createMerchant, createSecretBox, getMerchant, getMerchantDojoKey,
  listApiKeys, MerchantErrorCodes, revokeApiKey, updateMerchant
} from '../src/index.js'
import { createDb } from './helpers.js'

const newKey = (): string => randomBytes(32).toString('base64')
const SANDBOX_KEY = 'sk_sandbox_c2VjcmV0LWtleS1mb3ItdGVzdHM'

t.test('the secret box should seal with a fresh IV, open with any configured key, and refuse tampering', async (t) => {
  const [oldKey, freshKey] = [newKey(), newKey()]
  const before = createSecretBox([oldKey])
  const sealed = before.encrypt('sk_sandbox_abc')
  t.not(before.encrypt('sk_sandbox_abc'), sealed, 'the same secret seals differently each time')
  const rotated = createSecretBox([freshKey, oldKey])
  t.equal(rotated.decrypt(sealed), 'sk_sandbox_abc', 'an old key still opens what it sealed')
  t.not(rotated.encrypt('x').split('.')[1], sealed.split('.')[1], 'the new key seals from now on')
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA')
  t.throws(() => rotated.decrypt(tampered), { code: MerchantErrorCodes.decrypt })
  t.throws(() => createSecretBox([freshKey]).decrypt(sealed), { code: MerchantErrorCodes.decrypt, message: /unknown key/ })
  t.throws(() => createSecretBox(['c2hvcnQ=']), { code: MerchantErrorCodes.keyConfig })
})

t.test('createMerchant should seal the Dojo key and check it against the base URL', async (t) => {
  const db = await createDb(t)
  const box = createSecretBox([newKey()])
  const merchant = await createMerchant(db, box, { name: 'Corner Café', dojoSecretKey: SANDBOX_KEY, dojoBaseUrl: 'http://127.0.0.1:4010/', defaultRedirectUrl: 'https://shop.example/thanks' })
  t.match(merchant, { name: 'Corner Café', dojoEnvironment: 'sandbox', dojoKeyLast4: 'dHM', dojoBaseUrl: 'http://127.0.0.1:4010', linkExpiryHours: 720 })
  t.match(merchant.id, /^mer_/)
  const raw = await sql<{ row: string }>`SELECT row_to_json(m)::text AS row FROM merchants m`.execute(db)
  t.notMatch(raw.rows[0]!.row, /c2VjcmV0LWtleS1mb3ItdGVzdHM/, 'the key is not stored in clear')
  t.equal(await getMerchantDojoKey(db, box, merchant.id), SANDBOX_KEY)
  t.same(await getMerchant(db, merchant.id), merchant)
  await t.rejects(createMerchant(db, box, { name: 'x', dojoSecretKey: 'sk_prod_fake-key-for-tests', dojoBaseUrl: 'http://127.0.0.1:4010' }), { code: MerchantErrorCodes.invalid, message: /production/ })
  await t.rejects(createMerchant(db, box, { name: 'x', dojoSecretKey: 'pk_live_nope', dojoBaseUrl: 'https://api.dojo.tech' }), { code: MerchantErrorCodes.invalid })
  const updated = await updateMerchant(db, box, merchant.id, { linkExpiryHours: 48, name: 'Corner Café Ltd' })
  t.match(updated, { linkExpiryHours: 48, name: 'Corner Café Ltd', dojoKeyLast4: 'dHM' })
})

t.test('API keys should authenticate until revoked, be scoped, and be stored only as hashes', async (t) => {
  const db = await createDb(t)
  const box = createSecretBox([newKey()])
  const merchant = await createMerchant(db, box, { name: 'Shop', dojoSecretKey: SANDBOX_KEY, dojoBaseUrl: 'http://127.0.0.1:4010' })
  const { key, info } = await createApiKey(db, { merchantId: merchant.id, label: 'partner A' })
  t.match(key, /^plk_[A-Za-z0-9_-]{16}_[A-Za-z0-9_-]{43}$/)
  t.same(await authenticateApiKey(db, key), { keyId: info.keyId, scope: 'merchant', merchantId: merchant.id })
  const analyst = await createApiKey(db, { scope: 'analyst' })
  t.same(await authenticateApiKey(db, analyst.key), { keyId: analyst.info.keyId, scope: 'analyst', merchantId: null })
  const secretPart = key.split('_').slice(2).join('_')
  const stored = await sql<{ row: string }>`SELECT row_to_json(k)::text AS row FROM api_keys k`.execute(db)
  t.notOk(stored.rows.some((r) => r.row.includes(secretPart)), 'no key secret is stored')
  t.equal(await authenticateApiKey(db, key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')), undefined, 'a wrong secret fails')
  t.equal(await authenticateApiKey(db, 'Bearer nonsense'), undefined, 'a malformed key fails')
  t.equal(await revokeApiKey(db, info.keyId), true)
  t.equal(await revokeApiKey(db, info.keyId), false, 'revoking twice is a no-op')
  t.equal(await authenticateApiKey(db, key), undefined, 'a revoked key fails at once')
  const listed = await listApiKeys(db, merchant.id)
  t.equal(listed.length, 1)
  t.match(listed[0], { label: 'partner A', revokedAt: String })
  t.notOk(JSON.stringify(listed).includes(secretPart))
})
