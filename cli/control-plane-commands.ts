// Control-plane commands for the `sluice` CLI, as functions plus their flag tables so the CLI only
// dispatches: `sluice audit-export` (JSON lines of the whole audit log, then the chain verified)
// and `sluice upload` (a model version from a local ONNX file, through a running control plane's
// GraphQL API, so the upload is authorized and audited like any other).
import { existsSync, openAsBlob, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { CommandSpec, FlagSpec, FlagValues } from './flags.js';
import { AuditLog, type AuditVerification } from '../control-plane/services/audit.js';
import { openStore } from '../control-plane/store/db.js';

const LOG_LEVEL: FlagSpec = { name: 'log-level', type: 'string', default: 'info', description: 'fatal, error, warn, info, debug, trace or silent' };

export const AUDIT_EXPORT_COMMAND: CommandSpec = {
  name: 'audit-export',
  summary: 'Write the control plane audit log as JSON lines (oldest first) and verify its hash chain.',
  flags: [
    { name: 'data', type: 'string', default: './.sluice', description: 'control-plane data folder (SQLite)' },
    { name: 'db', type: 'string', description: 'postgres://… when the control plane uses PostgreSQL' },
    LOG_LEVEL,
  ],
};

export const UPLOAD_COMMAND: CommandSpec = {
  name: 'upload',
  summary: 'Register a model version from a local ONNX file with a running control plane.',
  flags: [
    { name: 'control-plane', type: 'string', default: 'http://127.0.0.1:8080', description: 'control plane URL' },
    { name: 'token', type: 'string', description: 'developer or admin token' },
    { name: 'model', type: 'string', description: 'registered model name' },
    { name: 'file', type: 'string', description: 'path of the ONNX file' },
    { name: 'description', type: 'string', description: 'version description' },
    { name: 'metrics', type: 'list', description: 'name=value,... recorded with the version' },
    { name: 'create-model', type: 'boolean', default: false, description: 'create the model first if it does not exist' },
    { name: 'alias', type: 'string', description: 'point this alias at the new version (needs an operator or admin token)' },
    LOG_LEVEL,
  ],
};

/** Stream every audit event, oldest first, one JSON object per line; returns the count and the chain check. */
export async function exportAuditLog(options: { dataDir: string; db?: string | undefined; out: Writable }): Promise<{ events: number; verification: AuditVerification }> {
  if (options.db === undefined && !existsSync(join(options.dataDir, 'control-plane.db'))) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `no control-plane database in ${options.dataDir}`, { details: { flag: 'data' } });
  }
  const store = await openStore({ dataDir: options.dataDir, db: options.db });
  try {
    const audit = new AuditLog(store);
    let events = 0;
    for await (const event of audit.all()) {
      if (!options.out.write(`${JSON.stringify(event)}\n`)) await new Promise((r) => options.out.once('drain', r));
      events++;
    }
    return { events, verification: await audit.verify() };
  } finally {
    await store.close();
  }
}

export interface UploadOptions {
  url: string;
  token: string;
  model: string;
  file: string;
  description?: string | undefined;
  metrics?: Record<string, number> | undefined;
  createModel?: boolean;
  alias?: string | undefined;
}

export interface UploadResult {
  model: string;
  version: number;
  sha256: string;
}

async function graphql(base: string, token: string, query: string, variables: Record<string, unknown>): Promise<any> {
  return post(base, { 'content-type': 'application/json', authorization: `Bearer ${token}` }, JSON.stringify({ query, variables }));
}

/** POST to `<base>/graphql` and return `data`; an unreachable server, a non-GraphQL answer or a GraphQL error is a SluiceError. */
async function post(base: string, headers: Record<string, string>, body: string | FormData): Promise<any> {
  let res: Response;
  try {
    res = await fetch(`${base}/graphql`, { method: 'POST', headers, body });
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `control plane ${base} unreachable`, { cause: err, details: { flag: 'control-plane' } });
  }
  const answer = (await res.json().catch(() => undefined)) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } | undefined;
  const error = answer?.errors?.[0];
  if (error) {
    throw new SluiceError('SLUICE_E_VALIDATION', `control plane refused: ${error.message} (${error.extensions?.code ?? 'no code'})`, { details: { code: error.extensions?.code } });
  }
  if (answer?.data === undefined || answer.data === null) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `${base}/graphql answered ${res.status} without GraphQL data; is --control-plane the control plane's URL?`, { details: { flag: 'control-plane' } });
  }
  return answer.data;
}

export async function uploadVersionFromPath(options: UploadOptions): Promise<UploadResult> {
  const base = options.url.replace(/\/+$/, '');
  if (!URL.canParse(base)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--control-plane is not a URL: "${options.url}"`, { details: { flag: 'control-plane' } });
  if (!statSync(options.file, { throwIfNoEntry: false })?.isFile()) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--file ${options.file} is not a file`, { details: { flag: 'file' } });
  if (options.createModel) {
    const existing = await graphql(base, options.token, 'query($n: String!) { model(name: $n) { id } }', { n: options.model });
    if (!existing.model) await graphql(base, options.token, 'mutation($n: String!) { createModel(input: { name: $n }) { id } }', { n: options.model });
  }
  const form = new FormData();
  const metrics = Object.entries(options.metrics ?? {}).map(([name, value]) => ({ name, value }));
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { number artifact { sha256 } } }',
      variables: { input: { model: options.model, artifact: null, description: options.description ?? null, metrics, lineage: { source: resolve(options.file) } } },
    }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.input.artifact'] }));
  form.set('0', await openAsBlob(options.file), basename(options.file));
  const version = (await post(base, { authorization: `Bearer ${options.token}`, 'graphql-require-preflight': '1' }, form)).createModelVersion as { number: number; artifact: { sha256: string } };
  if (options.alias) {
    await graphql(base, options.token, 'mutation($m: String!, $a: String!, $v: Int!) { setAlias(input: { model: $m, alias: $a, version: $v }) { name } }', {
      m: options.model,
      a: options.alias,
      v: version.number,
    });
  }
  return { model: options.model, version: version.number, sha256: version.artifact.sha256 };
}

function parseMetrics(list: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1).trim();
    const n = Number(value);
    if (eq < 1 || value === '' || !Number.isFinite(n)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--metrics entries are name=number, got "${item}"`, { details: { flag: 'metrics' } });
    out[name] = n;
  }
  return out;
}

/** `sluice audit-export`: JSON lines on stdout, the verification on the log; exit code 1 when the chain is broken. */
export async function runAuditExport(v: FlagValues, logger: Logger, out: Writable = process.stdout): Promise<number> {
  const { events, verification } = await exportAuditLog({ dataDir: resolve(v.data as string), db: v.db as string | undefined, out });
  if (verification.ok) logger.info({ events }, 'audit log exported; hash chain verified');
  else logger.error({ events, firstBad: verification.firstBad }, 'audit log exported; HASH CHAIN BROKEN');
  return verification.ok ? 0 : 1;
}

/** `sluice upload`: prints the new version as one JSON line. */
export async function runUpload(v: FlagValues, logger: Logger, out: Writable = process.stdout): Promise<number> {
  for (const flag of ['token', 'model', 'file'] as const) {
    if (typeof v[flag] !== 'string' || v[flag] === '') throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag} is required`, { details: { flag } });
  }
  const result = await uploadVersionFromPath({
    url: v['control-plane'] as string,
    token: v.token as string,
    model: v.model as string,
    file: v.file as string,
    description: v.description as string | undefined,
    metrics: parseMetrics(v.metrics as string[] | undefined),
    createModel: v['create-model'] === true,
    alias: v.alias as string | undefined,
  });
  logger.info(result, 'model version registered');
  out.write(`${JSON.stringify(result)}\n`);
  return 0;
}
