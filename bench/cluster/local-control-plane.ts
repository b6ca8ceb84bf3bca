// A control plane in this process on a fresh database, for each dialect: SQLite in a temp folder,
// and PostgreSQL in a new database on a real server started once per process. Tests (through
// test/control-plane/harness.ts) and the cluster benches talk to it over HTTP on loopback like any
// client, with the admin token.
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlaneOptions, type ControlPlaneServer } from '../../control-plane/index.js';
import { createLogger } from '../../lib/log.js';
import { ensureExampleRepository } from '../../examples/repository.js';
import { startPostgres, type PostgresServer } from './postgres.js';

export type DialectName = 'sqlite' | 'postgres';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

let postgres: Promise<PostgresServer> | undefined;

/** Register with the root tap object: `t.teardown(stopPostgres)`. */
export async function stopPostgres(): Promise<void> {
  if (postgres) await (await postgres).stop();
  postgres = undefined;
}

export interface GraphQLResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; details?: Record<string, unknown> }; path?: string[] }[];
}

export interface TestControlPlane {
  server: ControlPlaneServer;
  url: string;
  dialect: DialectName;
  dataDir: string;
  /** postgres:// URL of its database (undefined on SQLite). */
  db: string | undefined;
  /** Run SQL on the control plane's database directly (tampering tests). */
  sql(query: string): Promise<void>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string, headers?: Record<string, string>): Promise<GraphQLResult<T>>;
  /** A token with `role`; its secret. */
  token(role: 'viewer' | 'developer' | 'operator' | 'admin' | 'gateway', name?: string): Promise<string>;
  upload(model: string, file: Uint8Array | string, token?: string, extra?: Record<string, unknown>): Promise<GraphQLResult>;
  close(): Promise<void>;
}

interface Tap {
  teardown(fn: () => unknown): void;
}

export async function startTestControlPlane(t: Tap, dialect: DialectName, options: Partial<ControlPlaneOptions> = {}): Promise<TestControlPlane> {
  // Not t.testdir(): tap recreates that folder at each call, and a test may need several folders.
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sluice-cp-'));
  let db: string | undefined = options.db;
  if (dialect === 'postgres' && db === undefined) {
    postgres ??= startPostgres();
    db = await (await postgres).createDatabase();
  }
  const server = await startControlPlane({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    ...(db ? { db } : {}),
    logger: createLogger('control-plane-test', process.env.SLUICE_TEST_LOG_LEVEL ?? 'silent'),
    adminToken: ADMIN_TOKEN,
    ...options,
  });
  const url = server.url;
  const gql = async <T>(query: string, variables: Record<string, unknown> = {}, token: string = ADMIN_TOKEN, headers: Record<string, string> = {}): Promise<GraphQLResult<T>> => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as Omit<GraphQLResult<T>, 'status'>;
    return { status: res.status, ...body };
  };
  const sql = async (query: string) => {
    if (db) {
      const client = new pg.Client({ connectionString: db });
      await client.connect();
      try {
        await client.query(query);
      } finally {
        await client.end();
      }
    } else {
      const file = new BetterSqlite3(join(dataDir, 'control-plane.db'));
      try {
        file.exec(query);
      } finally {
        file.close();
      }
    }
  };
  const cp: TestControlPlane = {
    server,
    url,
    dialect,
    dataDir,
    db,
    sql,
    gql,
    async token(role, name = `${role}-token`) {
      const r = await gql<{ createToken: { secret: string } }>(
        'mutation($input: CreateTokenInput!) { createToken(input: $input) { secret token { id } } }',
        { input: { name, role: role.toUpperCase() } },
      );
      if (!r.data) throw new Error(`createToken failed: ${JSON.stringify(r.errors)}`);
      return r.data.createToken.secret;
    },
    async upload(model, file, token = ADMIN_TOKEN, extra = {}) {
      const bytes = typeof file === 'string' ? readFileSync(file) : file;
      // config and profile given as bytes or text go as multipart files, like the artifact.
      const { config, profile, ...input } = extra as { config?: Uint8Array | string; profile?: Uint8Array | string };
      const parts: [string, Uint8Array | string][] = [['artifact', bytes]];
      if (config !== undefined) parts.push(['config', config]);
      if (profile !== undefined) parts.push(['profile', profile]);
      const form = new FormData();
      form.set(
        'operations',
        JSON.stringify({
          query: `mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) {
            number status artifact { sha256 size signature keyId downloadUrl } signature { inputs { name datatype shape } outputs { name datatype shape } }
            config { sha256 } profile { sha256 } statement statementSignature
          } }`,
          variables: { input: { model, artifact: null, ...input } },
        }),
      );
      form.set('map', JSON.stringify(Object.fromEntries(parts.map(([field], i) => [i, [`variables.input.${field}`]]))));
      parts.forEach(([field, content], i) => form.set(String(i), new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), field));
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'graphql-require-preflight': '1' }, body: form });
      return { status: res.status, ...((await res.json()) as object) };
    },
    close: () => server.close(),
  };
  t.teardown(async () => {
    await cp.close();
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  });
  return cp;
}

/** Starts control planes for a bench's run; each is closed when the run ends. */
export type ControlPlaneStarter = (dialect: DialectName, options?: Partial<ControlPlaneOptions>) => Promise<TestControlPlane>;

/**
 * A bench's run (tests have tap's teardowns instead): `run` starts the control planes it needs with
 * `start`; when it ends, however it ends, they are closed, last first, and PostgreSQL is stopped.
 */
export async function withControlPlanes<T>(run: (start: ControlPlaneStarter) => Promise<T>): Promise<T> {
  const cleanups: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void cleanups.push(fn) };
  try {
    return await run((dialect, options) => startTestControlPlane(t, dialect, options));
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    await stopPostgres();
  }
}

/** The package root (this file runs from dist/bench/cluster/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The example models' ONNX files, in the example repository test/helpers/paths.ts builds too (read-only, shared). */
export function exampleOnnx(name: 'weather' | 'text-direction' | 'text-detection'): string {
  const models = join(ROOT, '.sluice', 'test-models');
  ensureExampleRepository(models);
  return join(models, name, '1', 'model.onnx');
}

/** A model with one uploaded version (the weather MLP), as most tests need one. */
export async function modelWithVersion(cp: TestControlPlane, name = 'weather'): Promise<{ sha256: string }> {
  const created = await cp.gql('mutation($name: String!) { createModel(input: { name: $name }) { id } }', { name });
  if (created.errors) throw new Error(JSON.stringify(created.errors));
  const up = await cp.upload(name, exampleOnnx('weather'));
  if (up.errors) throw new Error(JSON.stringify(up.errors));
  return { sha256: (up.data as { createModelVersion: { artifact: { sha256: string } } }).createModelVersion.artifact.sha256 };
}
