// Control-plane commands for the `sluice` CLI, as functions plus their flag tables so the CLI only
// dispatches: `sluice audit-export` (JSON lines of the whole audit log, then the chain verified),
// `sluice upload` (a model version from a local ONNX file, through a running control plane's
// GraphQL API, so the upload is authorized and audited like any other) and `sluice token create`
// (a token written straight into the store on the control plane's machine: the way back in when
// the admin token is lost; audited through the same service as the API's createToken).
import { existsSync, openAsBlob, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import type { AuditEvent, AuditVerification, Outcome } from '../control-plane/services/audit.js';
import { ROLES, type CallContext } from '../control-plane/services/actor.js';
import type { Store } from '../control-plane/store/db.js';
import { DATA_FLAG, DB_FLAG, LOG_LEVEL_FLAG } from './common-flags.js';

export const AUDIT_EXPORT_COMMAND = defineCommand({
  name: 'audit-export',
  summary: 'Write the control plane audit log as JSON lines (oldest first) and verify its hash chain.',
  flags: {
    data: DATA_FLAG,
    db: DB_FLAG,
    'log-level': LOG_LEVEL_FLAG,
  },
});

export const UPLOAD_COMMAND = defineCommand({
  name: 'upload',
  summary: 'Register a model version from a local ONNX file with a running control plane.',
  flags: {
    'control-plane': { type: 'string', default: 'http://127.0.0.1:8080', placeholder: 'url', description: 'control plane URL' },
    token: { type: 'string', required: true, description: 'developer or admin token' },
    model: { type: 'string', required: true, description: 'registered model name' },
    file: { type: 'string', required: true, placeholder: 'path', description: 'path of the ONNX file' },
    description: { type: 'string', description: 'version description' },
    metrics: { type: 'list', placeholder: 'name=value,...', description: 'recorded with the version' },
    'create-model': { type: 'boolean', default: false, description: 'create the model first if it does not exist' },
    alias: { type: 'string', description: 'point this alias at the new version (needs an operator or admin token)' },
    'log-level': LOG_LEVEL_FLAG,
  },
});

export const TOKEN_CREATE_COMMAND = defineCommand({
  name: 'token create',
  summary:
    'Create a token directly in the control plane\'s store, on its machine (the way back in after losing the admin token). ' +
    'Audited as token.create by the local user. Prints the secret once.',
  flags: {
    role: { type: 'string', required: true, choices: ROLES, description: 'the token\'s role' },
    name: { type: 'string', default: 'admin-recovered', description: 'token name shown in `tokens` and the audit log' },
    data: DATA_FLAG,
    db: DB_FLAG,
    'log-level': LOG_LEVEL_FLAG,
  },
});

/**
 * The store of `--data`/`--db`; refuses a data folder without a database rather than creating an
 * empty one. (The store's modules load here, not with the flag tables, so --help stays fast.)
 */
async function openExistingStore(dataDir: string, db: string | undefined): Promise<Store> {
  if (db === undefined && !existsSync(join(dataDir, 'control-plane.db'))) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `no control-plane database in ${dataDir}`, { details: { flag: 'data' } });
  }
  const { openStore } = await import('../control-plane/store/db.js');
  return openStore({ dataDir, db });
}

/** An audit event as the GraphQL API's `auditEvents` spells it: the outcome as its enum (`FAILED`), the rest as stored. */
export function auditEventForExport(event: AuditEvent): Omit<AuditEvent, 'outcome'> & { outcome: Uppercase<Outcome> } {
  return { ...event, outcome: event.outcome.toUpperCase() as Uppercase<Outcome> };
}

/** Stream every audit event, oldest first, one JSON object per line; returns the count and the chain check. */
export async function exportAuditLog(options: { dataDir: string; db?: string | undefined; out: Writable }): Promise<{ events: number; verification: AuditVerification }> {
  const store = await openExistingStore(options.dataDir, options.db);
  try {
    const { AuditLog } = await import('../control-plane/services/audit.js');
    const audit = new AuditLog(store);
    let events = 0;
    for await (const event of audit.all()) {
      if (!options.out.write(`${JSON.stringify(auditEventForExport(event))}\n`)) await new Promise((r) => options.out.once('drain', r));
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
export async function runAuditExport(v: FlagValues<typeof AUDIT_EXPORT_COMMAND.flags>, logger: Logger, out: Writable = process.stdout): Promise<number> {
  const { events, verification } = await exportAuditLog({ dataDir: resolve(v.data), db: v.db, out });
  if (verification.ok) logger.info({ events }, 'audit log exported; hash chain verified');
  else logger.error({ events, firstBad: verification.firstBad }, 'audit log exported; HASH CHAIN BROKEN');
  return verification.ok ? 0 : 1;
}

/** `sluice upload`: prints the new version as one JSON line. */
export async function runUpload(v: FlagValues<typeof UPLOAD_COMMAND.flags>, logger: Logger, out: Writable = process.stdout): Promise<number> {
  const result = await uploadVersionFromPath({
    url: v['control-plane'],
    token: v.token,
    model: v.model,
    file: v.file,
    description: v.description,
    metrics: parseMetrics(v.metrics),
    createModel: v['create-model'],
    alias: v.alias,
  });
  logger.info(result, 'model version registered');
  out.write(`${JSON.stringify(result)}\n`);
  return 0;
}

/** `sluice token create`: the new token as one JSON line on stdout (the secret appears nowhere else). */
export async function runTokenCreate(v: FlagValues<typeof TOKEN_CREATE_COMMAND.flags>, logger: Logger, out: Writable = process.stdout): Promise<number> {
  const store = await openExistingStore(resolve(v.data), v.db);
  try {
    const user = `${userInfo().username}@${hostname()}`;
    const ctx: CallContext = {
      actor: { id: 'local-cli', name: `sluice token create (${user})`, role: 'system' },
      request: { requestId: `cli-token-create-${process.pid}-${Date.now()}`, clientAddress: 'local' },
    };
    const [{ AuditLog }, { TokenService }] = await Promise.all([import('../control-plane/services/audit.js'), import('../control-plane/services/tokens.js')]);
    const { token, secret } = await new TokenService(store, new AuditLog(store)).create(ctx, { name: v.name, role: v.role });
    logger.info({ tokenId: token.id, role: token.role, by: user }, 'token created and audited; its secret is printed only this once');
    out.write(`${JSON.stringify({ id: token.id, name: token.name, role: token.role, secret })}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
