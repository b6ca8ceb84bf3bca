// The control plane's one database handle: Kysely over SQLite (better-sqlite3, the embedded default)
// or PostgreSQL (pg). Services use `Store` and never ask which dialect runs except through
// `forUpdate`, because SQLite has no row locks (its single connection already serializes writers).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type SelectQueryBuilder, type Transaction } from 'kysely';
import { SluiceError } from '../../lib/errors.js';
import type { Database } from './tables.js';
import { MIGRATIONS } from './migrations.js';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Store {
  readonly db: Db;
  readonly dialect: Dialect;
  /** `SELECT ... FOR UPDATE` on PostgreSQL; unchanged on SQLite. */
  forUpdate<QB extends SelectQueryBuilder<any, any, any>>(qb: QB): QB;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Folder holding `control-plane.db` when `db` is not given. */
  dataDir: string;
  /** postgres://… to use PostgreSQL. */
  db?: string | undefined;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

/** Open the database and run pending migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const dialect: Dialect = options.db === undefined ? 'sqlite' : 'postgres';
  let db: Db;
  if (dialect === 'postgres') {
    const url = options.db!;
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--db must be a postgres:// or postgresql:// URL', { details: { option: 'db' } });
    }
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle client that loses its server emits 'error' on the pool; without a listener that kills the process.
    pool.on('error', () => undefined);
    // A client checked out of the pool (a transaction between its queries) has no pool listener: when
    // PostgreSQL goes away it emits 'error' too, and without this one the replica dies. Its query
    // fails instead (SLUICE_E_STORE_UNAVAILABLE), and the pool drops the broken client on release.
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    const file = new BetterSqlite3(join(options.dataDir, 'control-plane.db'));
    file.pragma('journal_mode = WAL');
    file.pragma('foreign_keys = ON');
    file.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: file }) });
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw toStoreError(err, 'could not open the control-plane database');
  }
  return {
    db,
    dialect,
    forUpdate: (qb) => (dialect === 'postgres' ? (qb.forUpdate() as typeof qb) : qb),
    close: () => db.destroy(),
  };
}

async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/** A unique-constraint violation on either dialect (SQLite: SQLITE_CONSTRAINT_*, PostgreSQL: 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Wrap a driver error so its text (SQL, paths) never reaches a client; the original stays as `cause`. */
export function toStoreError(err: unknown, message = 'database operation failed'): SluiceError {
  if (err instanceof SluiceError) return err;
  if (isStoreUnavailable(err)) return new SluiceError('SLUICE_E_STORE_UNAVAILABLE', 'the control-plane database is unreachable; nothing was changed, try again', { cause: err });
  return new SluiceError('SLUICE_E_STORE_FAILED', message, { cause: err });
}

// Connection-level failures: the server refused, reset or ended the connection, is shutting down or
// starting up (SQLSTATE class 08 and 57P01-57P03), or the pool timed out connecting. The statement
// never committed, so the caller may retry; anything else (a constraint, a bug) is not this.
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down))/;

/** Whether `err` (or its cause) means PostgreSQL is unreachable rather than that the operation was wrong. */
export function isStoreUnavailable(err: unknown): boolean {
  for (let e = err, i = 0; e !== null && typeof e === 'object' && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const { code, message, errors } = e as { code?: unknown; message?: unknown; errors?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_ERRNO.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    // An AggregateError from net.connect trying ::1 and 127.0.0.1.
    if (Array.isArray(errors) && errors.some((x) => isStoreUnavailable(x))) return true;
  }
  return false;
}
