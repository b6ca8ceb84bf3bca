// One control plane per test on a fresh database, for each dialect: SQLite in a temp folder, and
// PostgreSQL in a new database on a real server started once per test file. It lives with the
// cluster benches, which use it too and must not import test helpers.
import type { DialectName } from '../../bench/cluster/local-control-plane.js';

export * from '../../bench/cluster/local-control-plane.js';

/** Both dialects; PostgreSQL's server is started by the first test that needs it and stopped by `stopPostgres`. */
export function dialects(): DialectName[] {
  return ['sqlite', 'postgres'];
}
