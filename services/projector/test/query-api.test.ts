import t from 'tap'
import { until } from '@paylinks/test-kit'
import { sql } from 'kysely'
import { createApiKey } from '@paylinks/merchants'
import { projectorOverHistory } from './helpers.js'

t.test('the query API should serve projections to keys scoped by merchant', async (t) => {
  const { app, db, history } = await projectorOverHistory(t, { merchants: ['mer_alpha01', 'mer_beta002'], start: new Date('2026-11-01T00:00:00Z') })
  const alpha = (await createApiKey(db, { merchantId: 'mer_alpha01' })).key
  const analyst = (await createApiKey(db, { scope: 'analyst' })).key
  await until(async () => (await app.inject('/status')).json().projections[0]?.eventsBehind === 0 && (await app.inject('/status')).json().projections[0]?.generation === 1)
  const get = async (path: string, key?: string, headers: Record<string, string> = {}) =>
    await app.inject({ method: 'GET', url: path, headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers } })

  t.test('keys should be required, and a merchant key should see only its merchant', async (t) => {
    const none = await get('/v1/payments')
    t.equal(none.statusCode, 401)
    t.match(none.headers['content-type'], /problem\+json/)
    t.equal((await get('/v1/payments', 'plk_aaaaaaaaaaaaaaaa_' + 'b'.repeat(43))).statusCode, 401)
    const own = (await get('/v1/payments?limit=500', alpha)).json()
    t.equal(own.data.length, 40)
    t.ok(own.data.every((p: { merchantId: string }) => p.merchantId === 'mer_alpha01'))
    const forbidden = await get('/v1/payments?merchantId=mer_beta002', alpha)
    t.equal(forbidden.statusCode, 403)
    t.match(forbidden.json().detail, /reads merchant mer_alpha01 only/)
    const betaLink = history.find((h) => (h.event.data as { merchantId?: string }).merchantId === 'mer_beta002')!.event.data.linkId as string
    t.equal((await get(`/v1/payments/${betaLink}`, alpha)).statusCode, 404, 'another merchant\'s link does not exist for this key')
    t.equal((await get(`/v1/payments/${betaLink}/timeline`, alpha)).statusCode, 404)
    t.equal((await get('/v1/payments?limit=500', analyst)).json().data.length, 80, 'an analyst reads every merchant')
    t.equal((await get('/v1/payments?limit=500&merchantId=mer_beta002', analyst)).json().data.length, 40)
  })

  t.test('pagination should walk every payment once, newest first', async (t) => {
    const seen: Array<{ linkId: string, createdAt: string }> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await get(`/v1/payments?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`, alpha)
      const page = res.json() as { data: Array<{ linkId: string, createdAt: string }>, nextCursor: string | null }
      seen.push(...page.data)
      cursor = page.nextCursor
      pages++
    } while (cursor !== null)
    t.equal(pages, 6)
    t.equal(new Set(seen.map((p) => p.linkId)).size, 40)
    t.ok(seen.every((p, i) => i === 0 || p.createdAt <= seen[i - 1]!.createdAt), 'newest first')
    t.equal((await get('/v1/payments?cursor=not-a-cursor', alpha)).statusCode, 400)
  })

  t.test('filters, CSV and figures should agree with the history', async (t) => {
    const paid = (await get('/v1/payments?status=paid&limit=500', alpha)).json().data
    t.equal(paid.length, 20, 'kinds 0-4 are paid (kind 5 went on to refunded)')
    t.equal((await get('/v1/payments?reference=ref-3', alpha)).json().data.length, 1)
    t.equal((await get('/v1/payments?createdFrom=2030-01-01T00:00:00Z', alpha)).json().data.length, 0)
    const bad = await get('/v1/payments?status=lost', alpha)
    t.equal(bad.statusCode, 400)
    t.match(bad.json().detail, /status/)

    const csv = await get('/v1/payments?limit=5', alpha, { accept: 'text/csv' })
    t.match(csv.headers['content-type'], /^text\/csv/)
    const lines = csv.body.trim().split('\n')
    t.equal(lines.length, 6, 'a header and five rows')
    t.match(lines[0], /^linkId,merchantId,reference,orderId,status,amountValue,amountCurrency,/)

    const daily = (await get('/v1/figures/daily?from=2026-11-01&to=2026-11-30', alpha)).json().data as Array<{ issued: number, paid: number, refunded: number, currency: string, capturedAmount: number }>
    t.equal(daily.reduce((n, d) => n + d.issued, 0), 36, '36 issued (4 failed)')
    t.equal(daily.reduce((n, d) => n + d.paid, 0), 24, '24 paid, refunded ones included')
    t.equal(daily.reduce((n, d) => n + d.refunded, 0), 4)
    t.same([...new Set(daily.map((d) => d.currency))].sort(), ['EUR', 'GBP'])
    t.match((await get('/v1/figures/daily?from=2026-11-01&to=2026-11-30&format=csv', alpha)).body, /^day,merchantId,currency,issued,paid/)

    const conversion = (await get('/v1/figures/conversion?from=2026-11-01&to=2026-11-30', alpha)).json()
    t.match(conversion, { issued: 36, paid: 24, conversionRate: 0.6667, funnel: { requested: 40, issued: 36, sent: 20, paid: 24 } })
    t.ok(conversion.timeToPaySeconds.median > 0 && conversion.timeToPaySeconds.p90 >= conversion.timeToPaySeconds.median)
    t.equal((await get('/v1/figures/conversion?from=2026-12-01&to=2026-11-01', alpha)).statusCode, 400)

    const link = paid[0].linkId as string
    const timeline = (await get(`/v1/payments/${link}/timeline`, alpha)).json().data as Array<{ type: string, status: string }>
    t.same(timeline.map((e) => e.type), ['payment-link.requested', 'payment-link.issued', ...(timeline.some((e) => e.type === 'payment-link.sent') ? ['payment-link.sent'] : []), 'payment-link.webhook-received', 'payment-link.status-changed'])
    t.equal(timeline.at(-1)?.status, 'paid')
  })

  t.test('dates that are not real dates should be a 400 problem, not a 500', async (t) => {
    for (const path of ['/v1/payments?createdFrom=not-a-date', '/v1/payments?createdTo=2026-02-30T00:00:00Z', '/v1/figures/daily?from=2026-02-30&to=2026-03-01', '/v1/figures/conversion?from=2026-11-01&to=2026-13-01']) {
      const res = await get(path, alpha)
      t.equal(res.statusCode, 400, `${path}: ${res.body}`)
      t.match(res.headers['content-type'], /problem\+json/)
      t.equal(res.json().code, 'SVC_VALIDATION')
    }
    const cursor = await get('/v1/payments?cursor=not-a-cursor', alpha)
    t.equal(cursor.json().code, 'SVC_BAD_CURSOR', 'the one cursor format, with a clear message')
    t.match(cursor.json().detail, /cursor is not a cursor from this API/)
  })

  t.test('400 wrong keys from one address should meet a 429 before any key look-up', async (t) => {
    const from = async (remoteAddress: string, key: string) => await app.inject({ method: 'GET', url: '/v1/payments?limit=1', remoteAddress, headers: { authorization: `Bearer ${key}` } })
    const statuses: number[] = []
    for (let i = 0; i < 400; i++) statuses.push((await from('10.0.0.9', `plk_${String(i).padStart(16, 'y')}_${'c'.repeat(43)}`)).statusCode)
    t.equal(statuses.indexOf(429), 20, 'AUTH_FAILURES_MAX (20) failures are answered 401, then 429')
    t.ok(statuses.slice(20).every((s) => s === 429))
    const fresh = (await createApiKey(db, { merchantId: 'mer_alpha01' })).key
    const limited = await from('10.0.0.9', fresh)
    t.equal(limited.statusCode, 429, 'a key never seen is not looked up from that address')
    t.match(limited.json(), { code: 'AUTH_LIMITED' })
    t.equal((await from('10.0.0.10', fresh)).statusCode, 200, 'another address is not affected')
  })

  t.test('the read-only analyst role should read the analytics views and nothing secret', async (t) => {
    await db.connection().execute(async (conn) => {
      await sql`SET ROLE paylinks_reader`.execute(conn)
      const n = await sql<{ n: number }>`SELECT count(*)::int AS n FROM analytics.payments`.execute(conn)
      t.equal(n.rows[0]?.n, 80)
      t.ok((await sql`SELECT * FROM analytics.daily_figures LIMIT 1`.execute(conn)).rows.length === 1)
      t.ok((await sql`SELECT * FROM analytics.payment_timeline LIMIT 1`.execute(conn)).rows.length === 1)
      await t.rejects(sql`SELECT dojo_secret_key_enc FROM merchants`.execute(conn), /permission denied/, 'merchants (and their sealed keys) are out of reach')
      await t.rejects(sql`SELECT secret_hash FROM api_keys`.execute(conn), /permission denied/)
      await t.rejects(sql`DELETE FROM analytics.payments`.execute(conn), /permission denied/)
      await sql`RESET ROLE`.execute(conn)
    })
  })

  t.test('the OpenAPI document should describe the query API with its security', async (t) => {
    const doc = (await get('/docs/json')).json()
    t.ok(doc.paths['/v1/payments'])
    t.ok(doc.components.securitySchemes.apiKey)
  })
})
