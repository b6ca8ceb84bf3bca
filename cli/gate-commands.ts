// `sluice dataset upload|list` and `sluice gate policy|evaluate|approve|reports`: holdout datasets,
// promotion policies and gate reports through a running control plane's GraphQL API, so every call
// is authorized and audited like any other. Each command prints JSON lines.
import { adminClientTls } from './admin-tls.js';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type CommandSpec, type FlagTable, type FlagValues } from '../lib/flags.js';
import { ControlPlaneClient } from '../control-plane/runner/client.js';
import { ADMIN_CLIENT_FLAGS } from './common-flags.js';
import { baseUrl, graphql } from './control-plane-commands.js';

const TOKEN_FLAG = { type: 'string', required: true, description: 'API token (see each command for the role)' } as const;
const MODEL_FLAG = { type: 'string', required: true, description: 'registered model name' } as const;
const VERSION_FLAG = { type: 'int', required: true, placeholder: 'n', description: 'model version number' } as const;
const REPORT_FIELDS = 'id model version policyRevision passed createdAt createdBy checks { kind name passed measured limit detail }';
const DATASET_FIELDS = 'id model name sha256 size rows columns { name numeric } createdAt createdBy';

export const DATASET_UPLOAD_COMMAND = defineCommand({
  name: 'dataset upload',
  summary: "Register a holdout CSV for a model's promotion gates (developer or admin).",
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: TOKEN_FLAG,
    model: MODEL_FLAG,
    name: { type: 'string', required: true, description: 'dataset name, e.g. holdout-2015 (a policy refers to it)' },
    file: { type: 'string', required: true, placeholder: 'file.csv', description: 'CSV with a header row: numeric feature columns, a label column, any others (e.g. a slice column)' },
  },
});

export const DATASET_LIST_COMMAND = defineCommand({
  name: 'dataset list',
  summary: "List a model's holdout datasets.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, model: MODEL_FLAG },
});

export const GATE_POLICY_COMMAND = defineCommand({
  name: 'gate policy',
  summary: "Show a model's promotion policy, or set a new revision of it with --file (operator or admin).",
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: TOKEN_FLAG,
    model: MODEL_FLAG,
    file: { type: 'string', placeholder: 'policy.json', description: 'set the policy from this JSON file (docs/gates.md); without it, show the current one' },
    history: { type: 'boolean', default: false, description: 'show every revision, oldest first' },
  },
});

export const GATE_EVALUATE_COMMAND = defineCommand({
  name: 'gate evaluate',
  summary: "Run the model's promotion policy on a version and print the report; exit 1 when it failed (developer, operator or admin).",
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, model: MODEL_FLAG, version: VERSION_FLAG },
});

export const GATE_APPROVE_COMMAND = defineCommand({
  name: 'gate approve',
  summary: 'Approve the promotion of a version you did not submit (operator or admin).',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: TOKEN_FLAG,
    model: MODEL_FLAG,
    version: VERSION_FLAG,
    comment: { type: 'string', description: 'why (recorded)' },
  },
});

export const GATE_REPORTS_COMMAND = defineCommand({
  name: 'gate reports',
  summary: "List a model's gate reports, oldest first.",
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN_FLAG, model: MODEL_FLAG, version: { type: 'int', placeholder: 'n', description: 'only this version' } },
});

async function readInput(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err, details: { flag } });
  }
}

/** A multipart upload (the JSON body limit does not apply to it), as the training runner sends model files. */
export async function runDatasetUpload(v: FlagValues<typeof DATASET_UPLOAD_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const csv = await readInput(v.file, 'file');
  const client = new ControlPlaneClient(baseUrl(v['control-plane']), v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  const data = await client.upload(`mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ${DATASET_FIELDS} } }`, { model: v.model, name: v.name }, { file: new Blob([new Uint8Array(csv)]) });
  out.write(`${JSON.stringify(data.uploadDataset)}\n`);
  return 0;
}

export async function runDatasetList(v: FlagValues<typeof DATASET_LIST_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String!) { datasets(model: $m) { ${DATASET_FIELDS} } }`, { m: v.model });
  for (const d of data.datasets) out.write(`${JSON.stringify(d)}\n`);
  return 0;
}

export async function runGatePolicy(v: FlagValues<typeof GATE_POLICY_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const base = baseUrl(v['control-plane']);
  const fields = 'model revision policy createdAt createdBy';
  if (v.file !== undefined) {
    let policy: unknown;
    try {
      policy = JSON.parse((await readInput(v.file, 'file')).toString('utf8'));
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      throw new SluiceError('SLUICE_E_GATE_POLICY_INVALID', `--file ${v.file} is not JSON: ${(err as Error).message}`, { cause: err, details: { flag: 'file' } });
    }
    const data = await graphql(base, v.token, `mutation($input: SetPromotionPolicyInput!) { setPromotionPolicy(input: $input) { ${fields} } }`, { input: { model: v.model, policy } });
    out.write(`${JSON.stringify(data.setPromotionPolicy)}\n`);
    return 0;
  }
  const data = await graphql(base, v.token, `query($m: String!) { promotionPolicy(model: $m) { ${fields} } promotionPolicyHistory(model: $m) { ${fields} } }`, { m: v.model });
  const shown = v.history ? data.promotionPolicyHistory : data.promotionPolicy === null ? [] : [data.promotionPolicy];
  if (shown.length === 0) out.write(`${JSON.stringify({ model: v.model, revision: null, policy: null })}\n`);
  for (const p of shown) out.write(`${JSON.stringify(p)}\n`);
  return 0;
}

export async function runGateEvaluate(v: FlagValues<typeof GATE_EVALUATE_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `mutation($m: String!, $v: Int!) { evaluateGates(model: $m, version: $v) { ${REPORT_FIELDS} } }`, { m: v.model, v: v.version });
  out.write(`${JSON.stringify(data.evaluateGates)}\n`);
  return data.evaluateGates.passed ? 0 : 1;
}

export async function runGateApprove(v: FlagValues<typeof GATE_APPROVE_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, 'mutation($input: ApprovePromotionInput!) { approvePromotion(input: $input) { id model version approver comment createdAt } }', {
    input: { model: v.model, version: v.version, comment: v.comment ?? null },
  });
  out.write(`${JSON.stringify(data.approvePromotion)}\n`);
  return 0;
}

export async function runGateReports(v: FlagValues<typeof GATE_REPORTS_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const data = await graphql(baseUrl(v['control-plane']), v.token, `query($m: String!, $v: Int) { gateReports(model: $m, version: $v) { ${REPORT_FIELDS} } }`, { m: v.model, v: v.version ?? null });
  for (const r of data.gateReports) out.write(`${JSON.stringify(r)}\n`);
  return 0;
}

type Register<C> = <F extends FlagTable>(spec: CommandSpec<F>, run: (values: FlagValues<F>) => Promise<number>) => C;

/** Every `sluice dataset ...` and `sluice gate ...` command, made with the CLI's own `command`. */
export function gateCommands<C>(command: Register<C>): C[] {
  return [
    command(DATASET_UPLOAD_COMMAND, (v) => runDatasetUpload(v)),
    command(DATASET_LIST_COMMAND, (v) => runDatasetList(v)),
    command(GATE_POLICY_COMMAND, (v) => runGatePolicy(v)),
    command(GATE_EVALUATE_COMMAND, (v) => runGateEvaluate(v)),
    command(GATE_APPROVE_COMMAND, (v) => runGateApprove(v)),
    command(GATE_REPORTS_COMMAND, (v) => runGateReports(v)),
  ];
}
