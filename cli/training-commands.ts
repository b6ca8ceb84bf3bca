// `sluice train submit|list|show|logs|cancel|retry`: training jobs through a running control plane's
// GraphQL API with a developer (or, to read, viewer) token. Answers are JSON lines on stdout; log
// lines go to stdout as the trainer printed them.
import { adminClientTls } from './admin-tls.js';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import { ControlPlaneClient } from '../control-plane/runner/client.js';
import { tokenFlag, ADMIN_CLIENT_FLAGS } from './common-flags.js';

const TOKEN = tokenFlag('developer or admin token (viewer to read)');
const ID = { type: 'string', required: true, description: 'training job id' } as const;

export const TRAIN_SUBMIT_COMMAND = defineCommand({
  name: 'train submit',
  summary: 'Submit a training job: a command trainer or the builtin, on a dataset, optionally a parameter sweep.',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: TOKEN,
    model: { type: 'string', required: true, description: 'registered model to train a new version of' },
    builtin: { type: 'string', placeholder: 'name', description: 'a built-in trainer: weather-mlp' },
    command: { type: 'string', placeholder: 'argv', description: 'a command trainer: a JSON list of strings, or words split at spaces (absolute paths)' },
    'trainer-sha256': { type: 'string', placeholder: 'hex', description: "the command trainer file's sha256 runners must find (default: whatever they find, recorded)" },
    dataset: { type: 'string', placeholder: 'path|url', description: "dataset path on the runners' machines or an http(s) URL (default for the builtin: the dataset it ships with)" },
    'dataset-sha256': { type: 'string', placeholder: 'hex', description: 'its sha256 (default: computed here from --dataset when it is a local file)' },
    params: { type: 'string', default: '{}', placeholder: 'json', description: 'parameters as a JSON object' },
    labels: { type: 'list', default: [], placeholder: 'label,...', description: 'only runners with all these labels claim it' },
    'timeout-seconds': { type: 'int', default: 3600, placeholder: 's', description: 'the trainer is killed past this' },
    retries: { type: 'int', default: 0, placeholder: 'n', description: 'attempts retried after a crash or a lost runner' },
    sweep: { type: 'string', placeholder: 'json', description: '{"method":"GRID|RANDOM","space":{...},"trials":n,"parallelism":n,"metric":"...","goal":"MIN|MAX"}' },
    follow: { type: 'boolean', default: false, description: 'then stream its log lines until it ends (exit 1 unless it succeeded)' },
  },
});

export const TRAIN_LIST_COMMAND = defineCommand({
  name: 'train list',
  summary: 'List training jobs, newest first, one JSON line each.',
  flags: {
    ...ADMIN_CLIENT_FLAGS,
    token: TOKEN,
    model: { type: 'string', description: 'only this model' },
    status: { type: 'string', choices: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'], description: 'only this status' },
    first: { type: 'int', default: 20, description: 'how many' },
  },
});

export const TRAIN_SHOW_COMMAND = defineCommand({
  name: 'train show',
  summary: 'Show a training job: status, attempts, error, metrics, validation, trials and the version it registered with its lineage.',
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN, id: ID },
});

export const TRAIN_LOGS_COMMAND = defineCommand({
  name: 'train logs',
  summary: "Print a training job's log lines; --follow streams them until the job ends (exit 1 unless it succeeded).",
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN, id: ID, follow: { type: 'boolean', default: false, description: 'keep printing new lines until the job ends' } },
});

export const TRAIN_CANCEL_COMMAND = defineCommand({
  name: 'train cancel',
  summary: 'Cancel a training job (a running trainer is killed within 2 s).',
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN, id: ID },
});

export const TRAIN_RETRY_COMMAND = defineCommand({
  name: 'train retry',
  summary: 'Queue a failed, cancelled or timed-out training job again.',
  flags: { ...ADMIN_CLIENT_FLAGS, token: TOKEN, id: ID },
});

const JOB_FIELDS = `id model status trainer { kind command builtin digest } dataset { url sha256 } parameters labels timeoutSeconds retries attemptCount
  cancelRequested error { code message details } metrics { name value } drifted parentVersion trial createdAt startedAt finishedAt
  version { number lineage { trainingJob datasetDigest trainerDigest parameters parentVersion source } profile { sha256 } }`;

function invalid(flag: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_CONFIG_INVALID', message, { details: { flag } });
}

function json(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(flag, `--${flag} is not JSON: ${(err as Error).message}`);
  }
}

function trainerOf(v: FlagValues<typeof TRAIN_SUBMIT_COMMAND.flags>): Record<string, unknown> {
  if ((v.builtin === undefined) === (v.command === undefined)) throw invalid('command', 'give --builtin or --command (one of them)');
  if (v.builtin !== undefined) return { builtin: v.builtin };
  const command = v.command!.trim().startsWith('[') ? json('command', v.command!) : v.command!.trim().split(/\s+/);
  return { command, ...(v['trainer-sha256'] ? { digest: v['trainer-sha256'] } : {}) };
}

function datasetOf(v: FlagValues<typeof TRAIN_SUBMIT_COMMAND.flags>): { url: string; sha256: string } | null {
  if (v.dataset === undefined) return null;
  if (/^https?:\/\//.test(v.dataset)) {
    if (!v['dataset-sha256']) throw invalid('dataset-sha256', 'a dataset URL needs --dataset-sha256');
    return { url: v.dataset, sha256: v['dataset-sha256'] };
  }
  const path = resolve(v.dataset);
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `--dataset ${v.dataset} is not a file`, { details: { flag: 'dataset' } });
  return { url: path, sha256: v['dataset-sha256'] ?? createHash('sha256').update(readFileSync(path)).digest('hex') };
}

export async function runTrainSubmit(v: FlagValues<typeof TRAIN_SUBMIT_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const client = new ControlPlaneClient(v['control-plane'], v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  const input = {
    model: v.model,
    trainer: trainerOf(v),
    dataset: datasetOf(v),
    parameters: json('params', v.params),
    labels: v.labels,
    timeoutSeconds: v['timeout-seconds'],
    retries: v.retries,
    sweep: v.sweep === undefined ? null : json('sweep', v.sweep),
  };
  const { submitTrainingJob: job } = await client.request(`mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id model status dataset { url sha256 } } }`, { input });
  out.write(`${JSON.stringify(job)}\n`);
  return v.follow ? followLogs(client, job.id, out) : 0;
}

export async function runTrainList(v: FlagValues<typeof TRAIN_LIST_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const client = new ControlPlaneClient(v['control-plane'], v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  const { trainingJobs } = await client.request('query($m: String, $s: TrainingJobStatus, $f: Int) { trainingJobs(model: $m, status: $s, first: $f) { edges { node { id model status attemptCount createdAt finishedAt error { code } version { number } } } } }', {
    m: v.model ?? null,
    s: v.status ?? null,
    f: v.first,
  });
  for (const { node } of trainingJobs.edges) out.write(`${JSON.stringify(node)}\n`);
  return 0;
}

export async function runTrainShow(v: FlagValues<typeof TRAIN_SHOW_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const client = new ControlPlaneClient(v['control-plane'], v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  const { trainingJob } = await client.request(
    `query($id: ID!) { trainingJob(id: $id) { ${JOB_FIELDS} attempts { number runner status startedAt finishedAt error { code message } } validation
      sweep { method trials parallelism metric goal } bestTrial { id } trials { id trial status parameters metrics { name value } } } }`,
    { id: v.id },
  );
  if (!trainingJob) throw new SluiceError('SLUICE_E_TRAINING_JOB_NOT_FOUND', `no training job ${v.id}`, { details: { id: v.id } });
  out.write(`${JSON.stringify(trainingJob, null, 2)}\n`);
  return 0;
}

export async function runTrainLogs(v: FlagValues<typeof TRAIN_LOGS_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const client = new ControlPlaneClient(v['control-plane'], v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  if (v.follow) return followLogs(client, v.id, out);
  let after = 0;
  for (;;) {
    const { job, lines } = await logPage(client, v.id, after);
    for (const l of lines) out.write(`${l.line}\n`);
    if (lines.length === 0) return job.status === 'SUCCEEDED' || !['FAILED', 'CANCELLED', 'TIMED_OUT'].includes(job.status) ? 0 : 1;
    after = lines.at(-1)!.seq;
  }
}

async function logPage(client: ControlPlaneClient, id: string, after: number): Promise<{ job: { status: string; error: { code: string; message: string } | null; version: { number: number } | null }; lines: { seq: number; line: string }[] }> {
  const { trainingJob } = await client.request('query($id: ID!, $after: Int) { trainingJob(id: $id) { status error { code message } version { number } logs(after: $after, first: 1000) { seq line } } }', { id, after });
  if (!trainingJob) throw new SluiceError('SLUICE_E_TRAINING_JOB_NOT_FOUND', `no training job ${id}`, { details: { id } });
  return { job: trainingJob, lines: trainingJob.logs };
}

/** Print log lines as they arrive until the job ends; then one JSON line with its end. Exit 0 only when it succeeded. */
async function followLogs(client: ControlPlaneClient, id: string, out: Writable): Promise<number> {
  let after = 0;
  for (;;) {
    const { job, lines } = await logPage(client, id, after);
    for (const l of lines) out.write(`${l.line}\n`);
    if (lines.length > 0) after = lines.at(-1)!.seq;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(job.status) && lines.length === 0) {
      out.write(`${JSON.stringify({ id, status: job.status, version: job.version?.number ?? null, error: job.error })}\n`);
      return job.status === 'SUCCEEDED' ? 0 : 1;
    }
    if (lines.length < 1000) await new Promise((r) => setTimeout(r, 300));
  }
}

export async function runTrainCancel(v: FlagValues<typeof TRAIN_CANCEL_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const client = new ControlPlaneClient(v['control-plane'], v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  const { cancelTrainingJob } = await client.request('mutation($id: ID!) { cancelTrainingJob(id: $id) { id status cancelRequested } }', { id: v.id });
  out.write(`${JSON.stringify(cancelTrainingJob)}\n`);
  return 0;
}

export async function runTrainRetry(v: FlagValues<typeof TRAIN_RETRY_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const client = new ControlPlaneClient(v['control-plane'], v.token, 'SLUICE_E_CONFIG_INVALID', adminClientTls());
  const { retryTrainingJob } = await client.request('mutation($id: ID!) { retryTrainingJob(id: $id) { id status } }', { id: v.id });
  out.write(`${JSON.stringify(retryTrainingJob)}\n`);
  return 0;
}
