// Control-plane commands for the `sluice` CLI, as functions plus their flag tables so the CLI only
// dispatches: `sluice audit-export` (JSON lines of the whole audit log, then the chain verified),
// `sluice upload` (a model version from a local ONNX file with its serving config and drift
// profile, through a running control plane's GraphQL API, so the upload is authorized and audited
// like any other), `sluice set-alias` (both alias movers then report what the fleet did: the
// version loaded on N of M connected gateways, or each gateway's refusal) and `sluice token create`
// (a token written straight into the store on the control plane's machine: the way back in when
// the admin token is lost; audited through the same service as the API's createToken).
import { adminFetch } from './admin-tls.js';
import { FormData, type FetchResponse } from '../lib/tls-fetch.js';
import { tlsFailureOf } from '../lib/tls.js';
import { existsSync, openAsBlob, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { ERROR_STATUS, SluiceError, type ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import type { AuditEvent, AuditVerification, Outcome } from '../control-plane/services/audit.js';
import { ROLES, type CallContext } from '../control-plane/services/actor.js';
import type { Store } from '../control-plane/store/db.js';
import { DATA_FLAG, DB_FILE_FLAG, DB_FLAG, GATE_OVERRIDE_FLAG, LOG_LEVEL_FLAG, ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { databaseUrl } from './secrets.js';
import { parseRateLimit } from '../gateway/access/rate-limit.js';

const WAIT_SECONDS_FLAG = { type: 'int', default: 30, placeholder: 's', description: 'after an alias move, how long to wait for the gateways to load the version' } as const;

export const AUDIT_EXPORT_COMMAND = defineCommand({
  name: 'audit-export',
  summary: 'Write the control plane audit log as JSON lines (oldest first) and verify its hash chain.',
  flags: {
    data: DATA_FLAG,
    db: DB_FLAG,
    'db-file': DB_FILE_FLAG,
    'log-level': LOG_LEVEL_FLAG,
  },
});

export const UPLOAD_COMMAND = defineCommand({
  name: 'upload',
  summary: 'Register a model version from a local ONNX file with a running control plane.',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: { type: 'string', required: true, description: 'developer or admin token' },
    model: { type: 'string', required: true, description: 'registered model name' },
    file: { type: 'string', required: true, placeholder: 'path', description: 'path of the ONNX file' },
    description: { type: 'string', description: 'version description' },
    metrics: { type: 'list', placeholder: 'name=value,...', description: 'recorded with the version' },
    'create-model': { type: 'boolean', default: false, description: 'create the model first if it does not exist' },
    alias: { type: 'string', description: 'point this alias at the new version (needs an operator or admin token)' },
    config: { type: 'string', placeholder: 'path', description: "serving config (config.json); default: the previous version's" },
    profile: { type: 'string', placeholder: 'path', description: 'drift reference profile (profile.json); default: none, drift off' },
    dataset: { type: 'string', placeholder: 'path', description: 'CSV (header row) or JSON rows of model inputs to compute the drift profile from' },
    'allow-duplicate': { type: 'boolean', default: false, description: 'register bytes an existing version already has' },
    'wait-seconds': WAIT_SECONDS_FLAG,
  },
});

export const SET_ALIAS_COMMAND = defineCommand({
  name: 'set-alias',
  summary: 'Point an alias (production, staging, ...) at a model version and report what the gateways did.',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: { type: 'string', required: true, description: 'operator or admin token' },
    model: { type: 'string', required: true, description: 'registered model name' },
    alias: { type: 'string', default: 'production', description: 'alias to move' },
    version: { type: 'int', required: true, description: 'version number the alias points at' },
    'gate-override': GATE_OVERRIDE_FLAG,
    'wait-seconds': WAIT_SECONDS_FLAG,
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
    scopes: { type: 'list', placeholder: 'scope,...', description: 'gateway scopes (infer:*, infer:<model>, metrics, repository); default: the role\'s' },
    'rate-limit': { type: 'string', placeholder: 'rate[:burst]', description: 'calls per second this token may make on each gateway' },
    data: DATA_FLAG,
    db: DB_FLAG,
    'db-file': DB_FILE_FLAG,
    'log-level': LOG_LEVEL_FLAG,
  },
});

/**
 * The store of `--data`/`--db`; refuses a data folder without a database rather than creating an
 * empty one. (The store's modules load here, not with the flag tables, so --help stays fast.)
 */
export async function openExistingStore(dataDir: string, db: string | undefined): Promise<Store> {
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
  config?: string | undefined;
  profile?: string | undefined;
  dataset?: string | undefined;
  allowDuplicate?: boolean | undefined;
}

export interface UploadResult {
  /** When the alias was moved (control plane clock), after --alias. */
  movedAt?: string | undefined;
  model: string;
  version: number;
  sha256: string;
  config: string | null;
  profile: string | null;
}

export async function graphql(base: string, token: string, query: string, variables: Record<string, unknown>): Promise<any> {
  return post(base, { 'content-type': 'application/json', authorization: `Bearer ${token}` }, JSON.stringify({ query, variables }));
}

/** POST to `<base>/graphql` and return `data`; an unreachable server, a non-GraphQL answer or a GraphQL error is a SluiceError. */
async function post(base: string, headers: Record<string, string>, body: string | FormData): Promise<any> {
  let res: FetchResponse;
  try {
    res = await adminFetch()(`${base}/graphql`, { method: 'POST', headers, body });
  } catch (err) {
    const tls = tlsFailureOf(err);
    if (tls !== undefined) throw new SluiceError('SLUICE_E_TLS_HANDSHAKE', `control plane ${base}: TLS handshake failed (${tls})`, { cause: err, details: { reason: tls, flag: 'control-plane' } });
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `control plane ${base} unreachable`, { cause: err, details: { flag: 'control-plane' } });
  }
  const answer = (await res.json().catch(() => undefined)) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } | undefined;
  const error = answer?.errors?.[0];
  if (error) {
    // The control plane's own code when it is one of ours, so the CLI exits naming it.
    const code = error.extensions?.code;
    const known = code !== undefined && code in ERROR_STATUS ? (code as ErrorCode) : 'SLUICE_E_VALIDATION';
    throw new SluiceError(known, `control plane refused: ${error.message}${known === code ? '' : ` (${code ?? 'no code'})`}`, { details: { code, ...(error.extensions as { details?: object } | undefined)?.details } });
  }
  if (answer?.data === undefined || answer.data === null) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `${base}/graphql answered ${res.status} without GraphQL data; is --control-plane the control plane's URL?`, { details: { flag: 'control-plane' } });
  }
  return answer.data;
}

function isFile(path: string | undefined, flag: string): void {
  if (path !== undefined && !statSync(path, { throwIfNoEntry: false })?.isFile()) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `--${flag} ${path} is not a file`, { details: { flag } });
  }
}

export async function uploadVersionFromPath(options: UploadOptions): Promise<UploadResult> {
  const base = baseUrl(options.url);
  isFile(options.file, 'file');
  isFile(options.config, 'config');
  isFile(options.profile, 'profile');
  isFile(options.dataset, 'dataset');
  if (options.profile !== undefined && options.dataset !== undefined) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'give --profile or --dataset, not both', { details: { flag: 'dataset' } });
  }
  // Built before anything is sent, so a dataset that does not fit the model changes nothing.
  let datasetProfile: ReturnType<typeof import('../control-plane/services/dataset-profile.js').profileFromDataset> | undefined;
  if (options.dataset !== undefined) {
    // Loaded here, not with the flag tables, so --help stays fast.
    const [{ profileFromDataset }, { readOnnxSignature }] = await Promise.all([import('../control-plane/services/dataset-profile.js'), import('../control-plane/services/onnx-signature.js')]);
    datasetProfile = profileFromDataset(options.dataset, options.model, readOnnxSignature(readFileSync(options.file)));
  }
  if (options.createModel) {
    const existing = await graphql(base, options.token, 'query($n: String!) { model(name: $n) { id } }', { n: options.model });
    if (!existing.model) await graphql(base, options.token, 'mutation($n: String!) { createModel(input: { name: $n }) { id } }', { n: options.model });
  }
  const metrics = Object.entries(options.metrics ?? {}).map(([name, value]) => ({ name, value }));
  const files: [string, Blob, string][] = [['artifact', await openAsBlob(options.file), basename(options.file)]];
  if (options.config !== undefined) files.push(['config', await openAsBlob(options.config), basename(options.config)]);
  if (options.profile !== undefined) files.push(['profile', await openAsBlob(options.profile), basename(options.profile)]);
  else if (datasetProfile !== undefined) files.push(['profile', new Blob([JSON.stringify(datasetProfile)]), 'profile.json']);
  const lineage = { source: resolve(options.file), ...(datasetProfile === undefined ? {} : { datasetDigest: (datasetProfile.source as { dataset_digest: string }).dataset_digest }) };
  // GraphQL multipart request: operations, then the map of file parts to variables, then the files.
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { number artifact { sha256 } config { sha256 } profile { sha256 } } }',
      variables: { input: { model: options.model, artifact: null, config: null, profile: null, allowDuplicate: options.allowDuplicate === true, description: options.description ?? null, metrics, lineage } },
    }),
  );
  form.set('map', JSON.stringify(Object.fromEntries(files.map(([field], i) => [i, [`variables.input.${field}`]]))));
  files.forEach(([, blob, name], i) => form.set(String(i), blob, name));
  const version = (await post(base, { authorization: `Bearer ${options.token}`, 'graphql-require-preflight': '1' }, form)).createModelVersion as {
    number: number;
    artifact: { sha256: string };
    config: { sha256: string } | null;
    profile: { sha256: string } | null;
  };
  const movedAt = options.alias ? await setAlias(base, options.token, options.model, options.alias, version.number) : undefined;
  return { movedAt, model: options.model, version: version.number, sha256: version.artifact.sha256, config: version.config?.sha256 ?? null, profile: version.profile?.sha256 ?? null };
}

export function baseUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  if (!URL.canParse(base)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--control-plane is not a URL: "${url}"`, { details: { flag: 'control-plane' } });
  return base;
}

/** Move the alias; returns when the control plane moved it (its clock, to compare with gateway reports). */
async function setAlias(base: string, token: string, model: string, alias: string, version: number, gateOverride?: string): Promise<string> {
  const data = await graphql(base, token, 'mutation($m: String!, $a: String!, $v: Int!, $o: String) { setAlias(input: { model: $m, alias: $a, version: $v, gateOverride: $o }) { updatedAt } }', { m: model, a: alias, v: version, o: gateOverride ?? null });
  return data.setAlias.updatedAt as string;
}

export interface FleetReport {
  /** Gateways connected to the control plane. */
  gateways: number;
  loaded: number;
  failed: number;
  states: { gateway: string; state: string; reason: string | null }[];
  /** Seconds from the alias move to the last state read. */
  seconds: number;
}

/**
 * Poll what the connected gateways report for a version until each has loaded or refused it, or
 * `timeoutMs` passes. A gateway reports right after applying a new desired state. A refusal
 * reported before `since` (the alias move) is an earlier attempt: the gateway tries again at once
 * on the new state, so it counts as pending until a newer report.
 */
export async function waitForFleet(url: string, token: string, model: string, version: number, timeoutMs: number, since = ''): Promise<FleetReport> {
  const base = baseUrl(url);
  const started = performance.now();
  for (;;) {
    const data = await graphql(base, token, 'query($m: String!, $v: Int!) { modelVersion(model: $m, version: $v) { fleet { gateways states { gateway state reason reportedAt } } } }', { m: model, v: version });
    const reported = data.modelVersion?.fleet as { gateways: number; states: (FleetReport['states'][number] & { reportedAt: string | null })[] } | undefined;
    if (reported === undefined) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model} has no version ${version}`, { details: { model, version } });
    const states = reported.states.map(({ reportedAt, ...s }) => (s.state === 'failed' && (reportedAt ?? '') < since ? { ...s, state: 'pending', reason: null } : s));
    const fleet = { gateways: reported.gateways, loaded: states.filter((s) => s.state === 'ready').length, failed: states.filter((s) => s.state === 'failed').length, states };
    const seconds = Math.round(performance.now() - started) / 1000;
    const settled = fleet.states.every((s) => s.state === 'ready' || s.state === 'failed');
    if (settled || performance.now() - started >= timeoutMs) return { ...fleet, seconds };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lines for people (stderr) about a fleet report; the exit code is 1 when gateways are connected and none loaded the version. */
function reportFleet(fleet: FleetReport, model: string, version: number, alias: string, waitSeconds: number, err: Writable): number {
  const lines: string[] = [];
  if (fleet.gateways === 0) {
    lines.push(`${model} version ${version} is ${alias}; no gateway is connected to load it yet`);
  } else {
    lines.push(`${model} version ${version} is ${alias}: loaded on ${fleet.loaded} of ${fleet.gateways} gateway${fleet.gateways === 1 ? '' : 's'} (${fleet.seconds.toFixed(1)} s)`);
    for (const s of fleet.states) {
      if (s.state === 'failed') lines.push(`  gateway ${s.gateway} refused it: ${s.reason ?? 'no reason given'}`);
      else if (s.state !== 'ready') lines.push(`  gateway ${s.gateway} has not loaded it within ${waitSeconds} s (${s.state})`);
    }
  }
  const none = fleet.gateways > 0 && fleet.loaded === 0;
  if (none) lines.push(`sluice: no gateway loaded ${model} version ${version} (SLUICE_E_FLEET_NOT_LOADED)`);
  err.write(`${lines.join('\n')}\n`);
  return none ? 1 : 0;
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
  const { events, verification } = await exportAuditLog({ dataDir: resolve(v.data), db: databaseUrl(v), out });
  if (verification.ok) logger.info({ events }, 'audit log exported; hash chain verified');
  else logger.error({ events, firstBad: verification.firstBad }, 'audit log exported; HASH CHAIN BROKEN');
  return verification.ok ? 0 : 1;
}

/**
 * `sluice upload`: prints the new version as one JSON line (with `fleet` after an alias move) and,
 * after an alias move, what the gateways did on stderr.
 */
export async function runUpload(v: FlagValues<typeof UPLOAD_COMMAND.flags>, logger: Logger, out: Writable = process.stdout, err: Writable = process.stderr): Promise<number> {
  const wait = waitMs(v['wait-seconds']);
  const result = await uploadVersionFromPath({
    url: v['control-plane'],
    token: v.token,
    model: v.model,
    file: v.file,
    description: v.description,
    metrics: parseMetrics(v.metrics),
    createModel: v['create-model'],
    alias: v.alias,
    config: v.config,
    profile: v.profile,
    dataset: v.dataset,
    allowDuplicate: v['allow-duplicate'],
  });
  logger.info(result, 'model version registered');
  const { movedAt, ...version } = result;
  if (!v.alias) {
    out.write(`${JSON.stringify(version)}\n`);
    return 0;
  }
  const fleet = await waitForFleet(v['control-plane'], v.token, result.model, result.version, wait, movedAt);
  out.write(`${JSON.stringify({ ...version, alias: v.alias, fleet })}\n`);
  return reportFleet(fleet, result.model, result.version, v.alias, wait / 1000, err);
}

/** `sluice set-alias`: moves the alias, then reports what the gateways did (as `upload --alias`). */
export async function runSetAlias(v: FlagValues<typeof SET_ALIAS_COMMAND.flags>, _logger: Logger, out: Writable = process.stdout, err: Writable = process.stderr): Promise<number> {
  const wait = waitMs(v['wait-seconds']);
  const { model, alias, version } = v;
  const movedAt = await setAlias(baseUrl(v['control-plane']), v.token, model, alias, version, v['gate-override']);
  const fleet = await waitForFleet(v['control-plane'], v.token, model, version, wait, movedAt);
  out.write(`${JSON.stringify({ model, alias, version, fleet })}\n`);
  return reportFleet(fleet, model, version, alias, wait / 1000, err);
}

function waitMs(seconds: number): number {
  if (!(seconds >= 0)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--wait-seconds must be 0 or more', { details: { flag: 'wait-seconds' } });
  return seconds * 1000;
}

/** `sluice token create`: the new token as one JSON line on stdout (the secret appears nowhere else). */
export async function runTokenCreate(v: FlagValues<typeof TOKEN_CREATE_COMMAND.flags>, logger: Logger, out: Writable = process.stdout): Promise<number> {
  const store = await openExistingStore(resolve(v.data), databaseUrl(v));
  try {
    const user = `${userInfo().username}@${hostname()}`;
    const ctx: CallContext = {
      actor: { id: 'local-cli', name: `sluice token create (${user})`, role: 'system' },
      request: { requestId: `cli-token-create-${process.pid}-${Date.now()}`, clientAddress: 'local' },
    };
    const [{ AuditLog }, { TokenService }] = await Promise.all([import('../control-plane/services/audit.js'), import('../control-plane/services/tokens.js')]);
    const limit = v['rate-limit'] === undefined ? undefined : parseRateLimit(v['rate-limit']);
    if (limit === undefined && v['rate-limit'] !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', '--rate-limit is <calls per second>[:<burst>]', { details: { flag: 'rate-limit' } });
    const { token, secret } = await new TokenService(store, new AuditLog(store)).create(ctx, { name: v.name, role: v.role, scopes: v.scopes, rateLimit: limit?.rate, rateBurst: limit?.burst });
    logger.info({ tokenId: token.id, role: token.role, by: user }, 'token created and audited; its secret is printed only this once');
    out.write(`${JSON.stringify({ id: token.id, name: token.name, role: token.role, secret })}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
