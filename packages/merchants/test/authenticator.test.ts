import { randomBytes } from 'node:crypto'
import t from 'tap'
import { sql, type Kysely } from 'kysely'
import { createDatabase } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown, until, type TestContext } from '@paylinks/test-kit'
import { createApiKey, createApiKeyAuthenticator, createMerchant, createSecretBox, revokeApiKey, type MerchantTables } from '../src/index.js'

async function setup (t: TestContext): Promise<{ db: Kysely<MerchantTables>, merchantId: string }> {
  const { url } = await createMigratedTestDatabase(t)
  const db = createDatabase<MerchantTables>({ connectionString: url, max: 2 })
  onTeardown(t, () => db.destroy())
  const merchant = await createMerchant(db, createSecretBox([randomBytes(32).toString('base64')]), { name: 'M', dojoSecretKey: 'sk_sandbox_c2VjcmV0LWtleS1mb3ItdGVzdHM', dojoBaseUrl: 'http://127.0.0.1:4010' })
  return { db, merchantId: merchant.id }
}

const bearer = (key: string): string => `Bearer ${key}`
const options = { cacheMs: 0, negativeCacheMs: 0, maxFailures: 1000, failureWindowMs: 60_000 }

t.test('createApiKeyAuthenticator should tell a good key from a missing, malformed or revoked one', async (t) => {
  const { db, merchantId } = await setup(t)
  const auth = createApiKeyAuthenticator(db, options)
  const { key, info } = await createApiKey(db, { merchantId })
  t.match(await auth.authenticate('10.1.0.1', bearer(key)), { ok: true, principal: { keyId: info.keyId, scope: 'merchant', merchantId } })
  t.same(await auth.authenticate('10.1.0.1', undefined), { ok: false, reason: 'missing' })
  t.same(await auth.authenticate('10.1.0.1', 'Basic abc'), { ok: false, reason: 'invalid' })
  await revokeApiKey(db, info.keyId)
  t.same(await auth.authenticate('10.1.0.1', bearer(key)), { ok: false, reason: 'invalid' }, 'without a cache a revocation is seen at once')
})

t.test('a failed key should be refused from the negative cache, without asking the database, until it expires', async (t) => {
  const { db, merchantId } = await setup(t)
  const auth = createApiKeyAuthenticator(db, { ...options, negativeCacheMs: 1000 })
  const { key, info } = await createApiKey(db, { merchantId })
  await revokeApiKey(db, info.keyId)
  t.same(await auth.authenticate('10.1.0.2', bearer(key)), { ok: false, reason: 'invalid' })
  // Undo the revocation behind the authenticator's back: only a cached refusal still says no.
  await db.updateTable('api_keys').set({ revoked_at: sql<Date>`NULL` }).where('id', '=', info.keyId).execute()
  t.same(await auth.authenticate('10.1.0.2', bearer(key)), { ok: false, reason: 'invalid' }, 'the refusal is cached')
  t.same(await createApiKeyAuthenticator(db, options).authenticate('10.1.0.2', bearer(key)), { ok: true, principal: { keyId: info.keyId, scope: 'merchant', merchantId } }, 'the database says yes')
  await until(async () => (await auth.authenticate('10.1.0.2', bearer(key))).ok, { timeoutMs: 10_000, what: 'negative cache expired' })
  t.pass('accepted once the cached refusal expired')
})

t.test('an address with too many failures should be refused before any look-up, other addresses not', async (t) => {
  const { db, merchantId } = await setup(t)
  const auth = createApiKeyAuthenticator(db, { ...options, cacheMs: 2000, maxFailures: 3 })
  const seen = (await createApiKey(db, { merchantId })).key
  const unseen = (await createApiKey(db, { merchantId })).key
  t.equal((await auth.authenticate('10.1.0.4', bearer(seen))).ok, true)
  const wrong = `plk_${'a'.repeat(16)}_${'b'.repeat(43)}`
  const reasons: string[] = []
  for (let i = 0; i < 5; i++) {
    const result = await auth.authenticate('10.1.0.3', bearer(wrong))
    reasons.push(result.ok ? 'ok' : result.reason)
  }
  t.same(reasons, ['invalid', 'invalid', 'invalid', 'limited', 'limited'], 'after three failures the address is limited')
  const limited = await auth.authenticate('10.1.0.3', bearer(unseen))
  t.match(limited, { ok: false, reason: 'limited' }, 'a good key never seen is not looked up from a limited address')
  t.ok((limited as { retryAfterMs: number }).retryAfterMs > 0)
  t.equal((await auth.authenticate('10.1.0.3', bearer(seen))).ok, true, 'a key already authenticated still passes')
  t.equal((await auth.authenticate('10.1.0.5', bearer(unseen))).ok, true, 'another address is not affected')
})
