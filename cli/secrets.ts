// Secrets a server command needs, taken so they stay out of `ps`: from a file (`--admin-token-file`,
// `--db-file`) or the environment (`SLUICE_ADMIN_TOKEN`, `SLUICE_DATABASE_URL`). A secret file must
// be private to its owner (0600), like the keys. A generated admin token goes to the terminal once,
// or off a terminal into a new 0600 file whose path is logged, never into the log itself.
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SluiceError } from '../lib/errors.js';
import { assertPrivateFile } from '../lib/private-file.js';

/** The first line of a private secret file, trimmed; `flag` names where it came from in errors. */
export function readSecretFile(file: string, flag: string): string {
  if (!existsSync(file)) throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `--${flag} ${file} does not exist`, { details: { flag } });
  assertPrivateFile(file, `--${flag}`);
  const value = readFileSync(file, 'utf8').split('\n')[0]!.trim();
  if (value === '') throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag} ${file} is empty`, { details: { flag } });
  return value;
}

/** The PostgreSQL URL: `--db-file`, else `--db`, else SLUICE_DATABASE_URL; undefined means SQLite. */
export function databaseUrl(v: { db?: string | undefined; 'db-file'?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (v['db-file'] !== undefined && v.db !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'give --db or --db-file, not both', { details: { flag: 'db-file' } });
  if (v['db-file'] !== undefined) return readSecretFile(v['db-file'], 'db-file');
  return v.db ?? (env.SLUICE_DATABASE_URL || undefined);
}

/** The first admin token: `--admin-token-file`, else SLUICE_ADMIN_TOKEN, else undefined (one is generated). */
export function adminToken(v: { 'admin-token-file'?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (v['admin-token-file'] !== undefined) return readSecretFile(v['admin-token-file'], 'admin-token-file');
  return env.SLUICE_ADMIN_TOKEN || undefined;
}

/** Write a generated secret into a new file only its owner can read; refuses to overwrite one. */
export function writeSecretFile(file: string, secret: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `cannot create ${file} for the generated admin token (it must not exist yet)`, { cause: err, details: { file } });
  }
  try {
    writeSync(fd, `${secret}\n`);
  } finally {
    closeSync(fd);
  }
}
