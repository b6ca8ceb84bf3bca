// What the migrations leave behind: a gateway token's own row is found by index, not by scanning the
// gateways table (the query plan shows it), and rows stored before a migration read its defaults
// (refused calls 0, no advertised URL);
// on SQLite and on a real PostgreSQL.
import t from 'tap';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../../../control-plane/store/db.js';
import { MIGRATIONS } from '../../../control-plane/store/migrations.js';
import { startPostgres } from '../../helpers/postgres.js';

/** The query GatewayService.ofToken runs on every desired-state poll of a gateway token. */
function ofToken(store: Store) {
  return store.db.selectFrom('gateways').selectAll().where('token_id', '=', 'tok_1').orderBy('registered_at', 'desc').compile();
}

/** Migrate to just before 0015_refused_calls, store a window as that schema had it, then open the store (which migrates to the latest). */
async function windowBeforeRefusals(db: Kysely<any>, reopen: () => Promise<Store>): Promise<{ calls: number; errors: number; refused: number }> {
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } }).migrateTo('0014_explained_windows');
  if (error) throw error;
  await db.insertInto('traffic_windows').values({
    id: 'tw_old', gateway: 'edge-1', model: 'weather', version: 1, rollout_id: null, window_start: '2030-01-01T00:00:00.000Z', window_end: '2030-01-01T00:00:01.000Z',
    received_at: '2030-01-01T00:00:01.000Z', calls: 3, errors: 1, latency: '[]', mirrored: '{}', outputs: '[]',
  }).execute();
  await db.destroy();
  const store = await reopen();
  try {
    const row = await store.db.selectFrom('traffic_windows').select(['calls', 'errors', 'refused']).where('id', '=', 'tw_old').executeTakeFirstOrThrow();
    return { calls: Number(row.calls), errors: Number(row.errors), refused: Number(row.refused) };
  } finally {
    await store.close();
  }
}

t.test('a window stored before 0015_refused_calls reads 0 refused calls, on SQLite and on PostgreSQL', async (t) => {
  const dir = t.testdir();
  const sqlite = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(join(dir, 'control-plane.db')) }) });
  t.same(await windowBeforeRefusals(sqlite, () => openStore({ dataDir: dir })), { calls: 3, errors: 1, refused: 0 }, 'SQLite');
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const url = await server.createDatabase();
  const postgres = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
  t.same(await windowBeforeRefusals(postgres, () => openStore({ dataDir: dir, db: url })), { calls: 3, errors: 1, refused: 0 }, 'PostgreSQL');
});

/** Migrate to just before 0016_gateway_advertise, store a gateway as that schema had it, then open the store (which migrates to the latest). */
async function gatewayBeforeAdvertise(db: Kysely<any>, reopen: () => Promise<Store>): Promise<{ name: string; advertise_url: string | null }> {
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } }).migrateTo('0015_refused_calls');
  if (error) throw error;
  await db.insertInto('tokens').values({ id: 'tok_1', name: 'edge-old', role: 'gateway', secret_hash: 'h'.repeat(64), created_at: '2030-01-01T00:00:00.000Z' }).execute();
  await db.insertInto('gateways').values({
    id: 'gw_old', name: 'edge-old', region: '', labels: '{}', token_id: 'tok_1', registered_at: '2030-01-01T00:00:00.000Z',
    last_heartbeat_at: '2030-01-01T00:00:01.000Z', loaded: '[]', health: 'healthy', health_message: '',
  }).execute();
  await db.destroy();
  const store = await reopen();
  try {
    return await store.db.selectFrom('gateways').select(['name', 'advertise_url']).where('id', '=', 'gw_old').executeTakeFirstOrThrow();
  } finally {
    await store.close();
  }
}

t.test('a gateway stored before 0016_gateway_advertise advertises nothing, on SQLite and on PostgreSQL', async (t) => {
  const dir = t.testdir();
  const sqlite = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(join(dir, 'control-plane.db')) }) });
  t.same(await gatewayBeforeAdvertise(sqlite, () => openStore({ dataDir: dir })), { name: 'edge-old', advertise_url: null }, 'SQLite');
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const url = await server.createDatabase();
  const postgres = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
  t.same(await gatewayBeforeAdvertise(postgres, () => openStore({ dataDir: dir, db: url })), { name: 'edge-old', advertise_url: null }, 'PostgreSQL');
});

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
