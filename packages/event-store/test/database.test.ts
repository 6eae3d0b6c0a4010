import t from 'tap'
import { sql, type Kysely } from 'kysely'
import { createTestDatabase, onTeardown, type TestContext } from '@paylinks/test-kit'
import { createDatabase } from '../src/index.js'

async function database (t: TestContext, prepareStatements?: boolean): Promise<Kysely<any>> {
  const { url } = await createTestDatabase(t)
  // One connection: every statement below runs in the session whose prepared statements we read.
  const db = createDatabase<any>({ connectionString: url, max: 1, ...(prepareStatements === undefined ? {} : { prepareStatements }) })
  onTeardown(t, async () => { await db.destroy() })
  await sql`CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)`.execute(db)
  await sql`INSERT INTO items VALUES (1, 'one'), (2, 'two')`.execute(db)
  return db
}

const preparedTexts = async (db: Kysely<any>): Promise<string[]> =>
  (await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements WHERE statement ILIKE '%from%items%' AND statement NOT LIKE '%pg_prepared_statements%'`.execute(db)).rows.map((r) => r.statement)

t.test('a statement run again on a connection should run prepared there, with the same results', async (t) => {
  const db = await database(t)
  const byId = async (id: number): Promise<string | undefined> => (await db.selectFrom('items').select('name').where('id', '=', id).executeTakeFirst())?.name
  t.equal(await byId(1), 'one')
  t.same(await preparedTexts(db), [], 'run once: not prepared')
  t.equal(await byId(2), 'two')
  t.equal(await byId(1), 'one')
  t.match(await preparedTexts(db), [/select "name" from "items" where "id" = \$1/], 'the second run prepared it, once')
})

t.test('a prepared statement whose result columns a migration changed should fail once, then run unprepared', async (t) => {
  const db = await database(t)
  const all = async (): Promise<unknown[]> => (await sql`SELECT * FROM items WHERE id >= ${0} ORDER BY id`.execute(db)).rows
  await all()
  await all()
  t.equal((await preparedTexts(db)).length, 1, 'prepared')
  await sql`ALTER TABLE items ADD COLUMN note text`.execute(db)
  await t.rejects(all(), { code: '0A000' }, 'Postgres refuses the cached plan of another row type')
  t.same(await all(), [{ id: 1, name: 'one', note: null }, { id: 2, name: 'two', note: null }], 'and then the new columns are read')
})

t.test('with prepareStatements off nothing should be prepared', async (t) => {
  const db = await database(t, false)
  for (let i = 0; i < 3; i++) await db.selectFrom('items').select('name').where('id', '=', 1).execute()
  t.same(await preparedTexts(db), [])
})
