import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { adminToken, databaseUrl } from '../../cli/secrets.js';
import { CLI } from '../helpers/paths.js';
import { startSluice } from '../helpers/cli.js';
import { startPostgres } from '../helpers/postgres.js';
import { eventually, graphqlAs } from '../helpers/wait.js';

const run = promisify(execFile);
/** A token secret as control-plane/services/tokens.ts makes them. */
const TOKEN_SECRET = /sluice_[A-Za-z0-9_-]{43}/;

t.test('off a terminal, serve writes the generated admin token into a 0600 file and the log names only the file', async (t) => {
  const data = t.testdir({});
  const serve = await startSluice(['serve', '--gateway-port', '0', '--control-plane-port', '0', '--data', data], { expectListening: 2, timeoutMs: 120_000 });
  t.teardown(() => serve.proc.exitCode === null && serve.proc.kill('SIGKILL'));
  const file = await eventually('the token file to be logged', async () => /"adminTokenFile":"([^"]+)"/.exec(serve.output())?.[1], 30_000);
  t.equal(statSync(file).mode & 0o777, 0o600, 'only its owner can read it');
  const token = readFileSync(file, 'utf8').trim();
  t.match(token, TOKEN_SECRET);
  const controlPlane = /control plane listening on (http:\/\/[^"\s]+)/.exec(serve.output())![1]!;
  t.same((await graphqlAs(controlPlane, token, '{ me { role } }')).me, { role: 'ADMIN' }, 'the token in the file is the admin token');
  t.equal(await serve.stop(), 0);
  t.notOk(serve.output().includes(token), 'the admin token is nowhere in the log');
  t.notMatch(serve.output(), TOKEN_SECRET, 'nor is any other token secret (the local gateway\'s and runner\'s)');
});

t.test('the control plane takes its database URL and admin token from files: the password and the token are neither in ps nor in the log', async (t) => {
  const postgres = await startPostgres();
  t.teardown(() => postgres.stop());
  const password = 'pw-that-must-not-leak-4711';
  // The test server trusts local connections, so any password works; what matters is that the URL carries one.
  const url = (await postgres.createDatabase()).replace('postgres@', `postgres:${password}@`);
  const dir = t.testdir({});
  const dbFile = join(dir, 'db-url');
  const tokenFile = join(dir, 'admin-token');
  const token = 'chosen-admin-token-0123456789abcdef';
  writeFileSync(dbFile, `${url}\n`, { mode: 0o600 });
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

  const cp = await startSluice(['control-plane', '--port', '0', '--data', join(dir, 'data'), '--db-file', dbFile, '--admin-token-file', tokenFile, '--log-level', 'debug'], {
    env: { SLUICE_ADMIN_TOKEN: undefined, SLUICE_DATABASE_URL: undefined },
  });
  t.teardown(() => cp.proc.exitCode === null && cp.proc.kill('SIGKILL'));
  const cmdline = readFileSync(`/proc/${cp.proc.pid}/cmdline`, 'utf8');
  t.notOk(cmdline.includes(password) || cmdline.includes(token), 'ps shows neither');
  t.same((await graphqlAs(cp.urls[0]!, token, '{ me { role } }')).me, { role: 'ADMIN' }, 'the token from the file is the first admin token');
  t.equal(await cp.stop(), 0);
  t.match(cp.output(), /"dialect":"postgres"/, 'the URL from the file was used');
  t.notOk(cp.output().includes(password), 'the database password is not in the log');
  t.notOk(cp.output().includes(token), 'the admin token is not in the log');
});

t.test('a secret file that others can read is refused before anything starts', async (t) => {
  const dir = t.testdir({});
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, 'chosen-admin-token-0123456789abcdef\n', { mode: 0o644 });
  await t.rejects(run(process.execPath, [CLI, 'control-plane', '--port', '0', '--data', join(dir, 'data'), '--admin-token-file', tokenFile]), {
    code: 1,
    stderr: /SLUICE_E_SECRET_FILE_EXPOSED/,
  });
  await t.rejects(run(process.execPath, [CLI, 'control-plane', '--port', '0', '--data', join(dir, 'data'), '--db-file', join(dir, 'absent')]), {
    code: 1,
    stderr: /SLUICE_E_CONFIG_FILE_MISSING/,
  });
});

t.test('the environment is the fallback: SLUICE_DATABASE_URL and SLUICE_ADMIN_TOKEN', async (t) => {
  t.equal(databaseUrl({}, { SLUICE_DATABASE_URL: 'postgres://u:p@h/db' }), 'postgres://u:p@h/db');
  t.equal(databaseUrl({ db: 'postgres://flag' }, { SLUICE_DATABASE_URL: 'postgres://env' }), 'postgres://flag', 'a flag wins over the environment');
  t.equal(databaseUrl({}, {}), undefined, 'nothing: SQLite');
  t.throws(() => databaseUrl({ db: 'postgres://a', 'db-file': '/x' }, {}), { code: 'SLUICE_E_CONFIG_INVALID' }, 'not both');
  t.equal(adminToken({}, { SLUICE_ADMIN_TOKEN: 'from-env-0123456789' }), 'from-env-0123456789');
});
