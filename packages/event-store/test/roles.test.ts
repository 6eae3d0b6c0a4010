import t from 'tap'
import pg from 'pg'
import { sql } from 'kysely'
import { createTestDatabase, credit, onTeardown, roleUrl, type TestContext } from '@paylinks/test-kit'
import { createDatabase, DATABASE_ROLES, EventStoreErrorCodes, migrateOnStart, record } from '../src/index.js'
import { createMigratedTestDatabase } from '../src/testing.js'

const SERVICE_ROLES = [DATABASE_ROLES.eventRecorder, DATABASE_ROLES.linkIssuer, DATABASE_ROLES.webhookIngest, DATABASE_ROLES.projector, DATABASE_ROLES.webhookDispatch]
const INSUFFICIENT_PRIVILEGE = '42501'

async function connectAs (t: TestContext, url: string, role: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: roleUrl(url, role) })
  await client.connect()
  onTeardown(t, () => client.end())
  return client
}

/** A migrated database with one event recorded by the recorder's role. */
async function storeWithOneEvent (t: TestContext): Promise<{ url: string, recorded: number }> {
  const { url } = await createMigratedTestDatabase(t)
  const recorder = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.eventRecorder), max: 1 })
  onTeardown(t, () => recorder.destroy())
  const result = await record(recorder, [{ position: 1, event: credit('ledger.roles') }])
  return { url, recorded: result.recorded.length }
}

t.test('the services\' database roles should not be able to update, delete, truncate or unprotect es_events', async (t) => {
  const { url, recorded } = await storeWithOneEvent(t)
  t.equal(recorded, 1, 'the recorder role inserts into the store')
  for (const role of SERVICE_ROLES) {
    const client = await connectAs(t, url, role)
    const me = await client.query<{ user: string, rolsuper: boolean }>('SELECT current_user AS user, rolsuper FROM pg_roles WHERE rolname = current_user')
    t.same(me.rows, [{ user: role, rolsuper: false }], `${role} logs in as itself, not a superuser`)
    const owner = await client.query<{ tableowner: string }>("SELECT tableowner FROM pg_tables WHERE tablename = 'es_events'")
    t.not(owner.rows[0]?.tableowner, role, `${role} does not own es_events`)
    t.equal((await client.query('SELECT position FROM es_events')).rowCount, 1, `${role} reads the store`)
    for (const statement of [
      'UPDATE es_events SET type = type',
      'DELETE FROM es_events',
      'TRUNCATE es_events',
      'ALTER TABLE es_events DISABLE TRIGGER ALL',
      'ALTER TABLE es_events DISABLE TRIGGER es_events_no_update_or_delete',
      'DROP TRIGGER es_events_no_update_or_delete ON es_events',
      'DROP TRIGGER es_events_no_truncate ON es_events',
      `ALTER TABLE es_events OWNER TO ${role}`,
      'DROP TABLE es_events',
      'CREATE TRIGGER sneak BEFORE INSERT ON es_events FOR EACH ROW EXECUTE FUNCTION es_refuse_change()',
      'UPDATE es_dead_letters SET reason = reason',
      'DELETE FROM es_dead_letters',
      'CREATE TABLE public.sneak (id int)'
    ]) {
      await t.rejects(client.query(statement), { code: INSUFFICIENT_PRIVILEGE }, `${role}: ${statement} is refused by privileges`)
    }
    if (role !== DATABASE_ROLES.eventRecorder) {
      const event = credit('ledger.other')
      await t.rejects(client.query('INSERT INTO es_events (position, event_id, stream_id, stream_version, type, schema_version, data, metadata, occurred_at) VALUES (2, $1, $2, 1, $3, 1, $4, $5, now())',
        [event.id, event.streamId, event.type, event.data, event.metadata]), { code: INSUFFICIENT_PRIVILEGE }, `${role} cannot insert: only the recorder records`)
    }
  }
  const owner = await connectAs(t, url, new URL(url).username)
  const triggers = await owner.query<{ tgname: string, tgenabled: string }>("SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'es_events'::regclass AND NOT tgisinternal ORDER BY tgname")
  t.same(triggers.rows.map((r) => `${r.tgname}:${r.tgenabled}`), ['es_events_no_truncate:O', 'es_events_no_update_or_delete:O', 'es_events_notify:O'], 'every trigger is still there and enabled')
  t.equal((await owner.query('SELECT 1 FROM es_events')).rowCount, 1, 'the event is untouched')
})

t.test('the analyst role should read no table outside the analytics views', async (t) => {
  const { url } = await storeWithOneEvent(t)
  const analyst = await connectAs(t, url, DATABASE_ROLES.analyst)
  const tables = await analyst.query<{ name: string }>("SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname IN ('public', 'projections') ORDER BY 1")
  const names = tables.rows.map((r) => r.name)
  for (const expected of ['public.es_events', 'public.es_dead_letters', 'public.merchants', 'public.api_keys', 'projections.generations']) t.ok(names.includes(expected), `${expected} is among the tables checked`)
  for (const name of names) {
    await t.rejects(analyst.query(`SELECT * FROM ${name} LIMIT 1`), { code: INSUFFICIENT_PRIVILEGE }, `the analyst cannot read ${name}`)
  }
  await t.rejects(analyst.query('UPDATE es_events SET type = type'), { code: INSUFFICIENT_PRIVILEGE })
  const usage = await analyst.query<{ ok: boolean }>("SELECT has_schema_privilege('analytics', 'USAGE') AS ok")
  t.equal(usage.rows[0]?.ok, true, 'the analytics schema is open to analysts')
})

t.test('migrateOnStart should migrate as the owner through MIGRATION_DATABASE_URL while the service connects as its role', async (t) => {
  await createMigratedTestDatabase(t) // the roles exist on the cluster
  const { url } = await createTestDatabase(t)
  const service = createDatabase({ connectionString: roleUrl(url, DATABASE_ROLES.linkIssuer), max: 1 })
  onTeardown(t, () => service.destroy())
  await t.rejects(migrateOnStart(service, {}), { code: EventStoreErrorCodes.migration }, 'a service role cannot apply migrations itself')
  const applied = await migrateOnStart(service, { MIGRATION_DATABASE_URL: url })
  t.ok((applied.results ?? []).some((r) => r.migrationName === '0012_service_roles'), 'the owner applied them')
  const owners = await sql<{ tableowner: string }>`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('public', 'projections')`.execute(service)
  t.same(owners.rows.map((r) => r.tableowner), [new URL(url).username], 'every table belongs to the owner')
  const again = await migrateOnStart(service, {})
  t.same(again.results, [], 'under its role a service confirms nothing is pending')
})
