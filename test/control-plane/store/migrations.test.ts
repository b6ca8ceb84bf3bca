// What the migrations leave behind that a query plan shows: a gateway token's own row is found by
// index, not by scanning the gateways table, on SQLite and on a real PostgreSQL.
import t from 'tap';
import { sql } from 'kysely';
import { openStore, type Store } from '../../../control-plane/store/db.js';
import { startPostgres } from '../../helpers/postgres.js';

/** The query GatewayService.ofToken runs on every desired-state poll of a gateway token. */
function ofToken(store: Store) {
  return store.db.selectFrom('gateways').selectAll().where('token_id', '=', 'tok_1').orderBy('registered_at', 'desc').compile();
}

t.test('SQLite finds a gateway by its token with the index, in registration order', async (t) => {
  const store = await openStore({ dataDir: t.testdir() });
  t.teardown(() => store.close());
  const q = ofToken(store);
  const plan = await sql.raw<{ detail: string }>(`EXPLAIN QUERY PLAN ${q.sql.replace('?', "'tok_1'")}`).execute(store.db);
  const details = plan.rows.map((r) => r.detail);
  t.match(details.join('\n'), /SEARCH gateways USING INDEX gateways_token \(token_id=\?\)/, details.join('; '));
  t.notMatch(details.join('\n'), /SCAN gateways|TEMP B-TREE/, 'no table scan, no sort');
});

t.test('PostgreSQL has the index and plans the lookup with it', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const store = await openStore({ dataDir: t.testdir(), db: await pg.createDatabase() });
  t.teardown(() => store.close());
  const index = await sql<{ indexdef: string }>`SELECT indexdef FROM pg_indexes WHERE tablename = 'gateways' AND indexname = 'gateways_token'`.execute(store.db);
  t.match(index.rows[0]?.indexdef, /\(token_id, registered_at\)/);
  // An empty table is cheapest to scan whatever exists, so the planner is told to avoid that,
  // as it would on its own with a fleet's worth of rows.
  const plan = await store.db.connection().execute(async (db) => {
    await sql`SET enable_seqscan = off`.execute(db);
    const q = ofToken(store);
    return sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql.replace('$1', "'tok_1'")}`).execute(db);
  });
  const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
  t.match(text, /Index Scan Backward using gateways_token on gateways/, text);
  t.notMatch(text, /Sort/, 'no sort');
});
