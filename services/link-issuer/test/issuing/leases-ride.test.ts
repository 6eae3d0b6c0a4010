// The lease confirms (the fence before an outcome is published) ride on the reference claims'
// statement of their turn (issuing/leases.ts `ride`, repositories/references.ts): each confirm
// must still answer for its own lease, and one no claim carries must still be sent.
import t from 'tap'
import { sql } from 'kysely'
import { createDatabase, DATABASE_ROLES } from '@paylinks/event-store'
import { createMigratedTestDatabase } from '@paylinks/event-store/testing'
import { onTeardown, roleUrl, type TestContext } from '@paylinks/test-kit'
import { createLeases, createTurnScheduler, type Lease } from '../../src/issuing/leases.js'
import { createReferenceClaims, type ReferenceClaim } from '../../src/repositories/references.js'
import type { LinkIssuerTables } from '../../src/tables.js'

const { url } = await createMigratedTestDatabase(t)
const db = createDatabase<LinkIssuerTables>({ connectionString: roleUrl(url, DATABASE_ROLES.linkIssuer), max: 4 })
onTeardown(t, () => db.destroy())
const log = { warn: () => {} }

function issuing (t: TestContext, rideMs: number): { leases: ReturnType<typeof createLeases>, claim: (reference: string) => Promise<Lease> } {
  const schedule = createTurnScheduler()
  const lease = { owner: `owner-${rideMs}`, ownerLock: () => 4242, leaseMs: 10_000 }
  const leases = createLeases({ db, ...lease, log, schedule, rideMs })
  onTeardown(t, () => leases.close())
  const references = createReferenceClaims({ db, lease, renewals: leases.ride, schedule })
  const claimOf = (reference: string): ReferenceClaim => ({ merchantId: 'mer_ride0001', reference, linkId: `lnk_${reference}`, requestedBy: `req:${reference}` })
  return {
    leases,
    claim: async (reference) => {
      const claimed = await references.claim(claimOf(reference))
      if (!claimed.claimed || claimed.generation === undefined) throw new Error(`${reference} not claimed with its lease`)
      return leases.adopt(`lnk_${reference}`, claimed.generation)
    }
  }
}

const expiresAt = async (linkId: string): Promise<Date> =>
  (await db.selectFrom('li_issue_leases').select('expires_at').where('link_id', '=', linkId).executeTakeFirstOrThrow()).expires_at
const within = async <T>(ms: number, what: string, promise: Promise<T>): Promise<T> =>
  await Promise.race([promise, new Promise<never>((_resolve, reject) => setTimeout(() => { reject(new Error(`${what} took longer than ${ms} ms`)) }, ms))])

t.test('a lease confirm should ride on its turn\'s claim statement and answer for its own lease', async (t) => {
  // A minute to wait alone: only a claim statement of the same turn can answer within the test.
  const { leases, claim } = issuing(t, 60_000)
  const mine = await claim('ride-a')
  const lost = await claim('ride-b')
  // Another holder took ride-b's lease since (a new generation): its confirm must say so.
  await sql`UPDATE li_issue_leases SET generation = nextval('li_issue_lease_generation') WHERE link_id = 'lnk_ride-b'`.execute(db)
  const before = await expiresAt('lnk_ride-a')
  await new Promise((resolve) => setTimeout(resolve, 20))

  const [kept, fenced, next] = await within(5000, 'the confirms', Promise.all([leases.confirm(mine), leases.confirm(lost), claim('ride-c')]))
  t.equal(kept, true, 'the lease still ours is confirmed')
  t.equal(fenced, false, 'the lease taken by another is not')
  t.equal(leases.holds(lost), false, 'and no longer held')
  t.equal(leases.holds(mine), true)
  t.ok((await expiresAt('lnk_ride-a')).getTime() > before.getTime(), 'the confirmed lease was renewed')
  t.ok(next.generation > mine.generation, 'the claim of the same statement took its own lease')
})

t.test('a confirm no claim statement carries should be renewed on its own after the ride wait', async (t) => {
  const { leases, claim } = issuing(t, 5)
  const mine = await claim('alone-a')
  const before = await expiresAt('lnk_alone-a')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await within(5000, 'the confirm', leases.confirm(mine)), true)
  t.ok((await expiresAt('lnk_alone-a')).getTime() > before.getTime(), 'renewed')
  await sql`DELETE FROM li_issue_leases WHERE link_id = 'lnk_alone-a'`.execute(db)
  t.equal(await within(5000, 'the confirm', leases.confirm(mine)), false, 'a lease gone is not confirmed')
  t.equal(leases.holds(mine), false)
})
