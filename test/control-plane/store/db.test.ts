// The PostgreSQL store when its server goes away under a held connection: the process lives on and
// the transaction fails, as a replica must while PostgreSQL is down (issue 19).
import t from 'tap';
import { sql } from 'kysely';
import { openStore } from '../../../control-plane/store/db.js';
import { startPostgres } from '../../helpers/postgres.js';

t.test('PostgreSQL stopped while a transaction holds a pooled connection: the transaction fails, the process lives', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const store = await openStore({ dataDir: t.testdir(), db: await pg.createDatabase() });
  t.teardown(() => store.close().catch(() => undefined));
  const outcome = store.db.transaction().execute(async (trx) => {
    await sql`SELECT 1`.execute(trx);
    // The server stops between two queries of the transaction: the checked-out client emits 'error'.
    await pg.halt();
    await new Promise((r) => setTimeout(r, 500));
    await sql`SELECT 1`.execute(trx);
  });
  await t.rejects(outcome, 'the transaction fails');
  await pg.resume();
  const again = await sql<{ one: number }>`SELECT 1 AS one`.execute(store.db);
  t.equal(again.rows[0]?.one, 1, 'the pool serves again once PostgreSQL is back');
});
