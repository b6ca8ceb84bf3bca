// What the training tests share: a control plane with the weather model in production, runner
// tokens in files, real `sluice runner` processes, and one small command trainer (a node script
// written into a temp folder) whose behaviour each job picks with its `mode` parameter.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSluice, type SluiceProcess } from '../../helpers/cli.js';
import { eventually } from '../../helpers/wait.js';
import { exampleOnnx, type TestControlPlane } from '../harness.js';
import { exampleModels } from '../../helpers/paths.js';

interface Tap {
  teardown(fn: () => unknown): void;
}

/** The weather model with version 1 (the example MLP) as production. */
export async function weatherInProduction(cp: TestControlPlane): Promise<void> {
  const created = await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  if (created.errors) throw new Error(JSON.stringify(created.errors));
  // With the drift profile the example repository serves it with, so new datasets are compared to it.
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { profile: readFileSync(join(exampleModels(), 'weather', '1', 'profile.json')) });
  if (up.errors) throw new Error(JSON.stringify(up.errors));
  const moved = await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  if (moved.errors) throw new Error(JSON.stringify(moved.errors));
}

export function tempDir(t: Tap, prefix = 'sluice-training-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A runner token's secret in a file. */
export async function runnerTokenFile(cp: TestControlPlane, dir: string, name = 'runner'): Promise<string> {
  const r = await cp.gql('mutation($input: CreateTokenInput!) { createToken(input: $input) { secret } }', { input: { name, role: 'RUNNER' } });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  const file = join(dir, `${name}.token`);
  writeFileSync(file, `${r.data.createToken.secret}\n`, { mode: 0o600 });
  return file;
}

/** `sluice runner` as a process; resolves once it logged that it is claiming. */
export async function startRunner(t: Tap, url: string, tokenFile: string, args: string[] = []): Promise<SluiceProcess> {
  const p = await startSluice(['runner', '--control-plane', url, '--token-file', tokenFile, '--poll-ms', '100', '--log-format', 'json', ...args], { expectListening: 0 });
  await eventually('the runner claims', async () => (p.output().includes('runner claiming training jobs') ? true : undefined), 30_000);
  t.teardown(() => (p.proc.exitCode === null && p.proc.signalCode === null ? p.stop('SIGKILL') : undefined));
  return p;
}

// The test trainer. Modes: ok (copy MODEL, metrics.json from the parameter x: score = (x-3)^2),
// contract (print the contract it received, JSON progress lines, no metrics.json), exit3, nomodel,
// garbage (a model.onnx that is not ONNX), wrongsig (copy the text-direction model), hang (start a
// child, write both pids to pidFile, never end). Every run appends a line to `ledger` when given.
const TRAINER = `
import { copyFileSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
const [model, otherModel] = process.argv.slice(2);
const out = process.env.SLUICE_OUTPUT_DIR;
const params = JSON.parse(process.env.SLUICE_PARAMS);
const mode = params.mode ?? 'ok';
const started = Date.now();
if (params.ledger) appendFileSync(params.ledger, JSON.stringify({ job: process.env.SLUICE_JOB_ID, attempt: process.env.SLUICE_ATTEMPT, event: 'start', at: started }) + '\\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
if (params.sleepMs) await sleep(params.sleepMs);
console.error('trainer: mode ' + mode);
if (mode === 'contract') {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SLUICE_')));
  console.log('contract ' + JSON.stringify({ env, cwd: process.cwd(), datasetSha256: createHash('sha256').update(readFileSync(process.env.SLUICE_DATASET)).digest('hex') }));
  console.log(JSON.stringify({ epoch: 1, loss: 0.5 }));
  console.log(JSON.stringify({ epoch: 2, loss: 0.25, accuracy: 0.75 }));
  copyFileSync(model, join(out, 'model.onnx'));
} else if (mode === 'exit3') {
  console.log('about to fail');
  console.error('boom: the trainer gives up');
  process.exit(3);
} else if (mode === 'nomodel') {
  console.log('done, but wrote nothing');
} else if (mode === 'garbage') {
  writeFileSync(join(out, 'model.onnx'), 'this is not an ONNX model');
} else if (mode === 'wrongsig') {
  copyFileSync(otherModel, join(out, 'model.onnx'));
} else if (mode === 'hang') {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  writeFileSync(params.pidFile, JSON.stringify([process.pid, child.pid]));
  console.log('hanging');
  setInterval(() => {}, 1000);
  await new Promise(() => {});
} else {
  const x = Number(params.x ?? 0);
  console.log(JSON.stringify({ epoch: 1, score: (x - 3) ** 2 + 1 }));
  copyFileSync(model, join(out, 'model.onnx'));
  writeFileSync(join(out, 'metrics.json'), JSON.stringify({ score: (x - 3) ** 2 }));
}
if (params.ledger) appendFileSync(params.ledger, JSON.stringify({ job: process.env.SLUICE_JOB_ID, attempt: process.env.SLUICE_ATTEMPT, event: 'end', at: Date.now() }) + '\\n');
`;

export interface TestTrainer {
  /** argv of the trainer (absolute paths). */
  command: string[];
  /** sha256 of the script: the digest recorded in lineage. */
  sha256: string;
}

export function writeTrainer(dir: string): TestTrainer {
  const script = join(dir, 'trainer.mjs');
  writeFileSync(script, TRAINER);
  return { command: [process.execPath, script, exampleOnnx('weather'), exampleOnnx('text-direction')], sha256: createHash('sha256').update(readFileSync(script)).digest('hex') };
}

/** A dataset file and its digest. */
export function writeDataset(dir: string, name: string, text: string): { url: string; sha256: string } {
  const file = join(dir, name);
  writeFileSync(file, text);
  return { url: file, sha256: createHash('sha256').update(text).digest('hex') };
}

export const JOB = `id status attemptCount error { code message details } metrics { name value } validation drifted
  attempts { number runner status error { code } } version { number metrics { name value } lineage { trainingJob datasetDigest trainerDigest parameters parentVersion } profile { sha256 } config { sha256 } artifact { sha256 } }`;

export async function submit(cp: TestControlPlane, input: Record<string, unknown>, token?: string): Promise<string> {
  const r = await cp.gql('mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id status } }', { input }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.submitTrainingJob.id as string;
}

export async function job(cp: TestControlPlane, id: string): Promise<any> {
  const r = await cp.gql(`query($id: ID!) { trainingJob(id: $id) { ${JOB} } }`, { id });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  const logs: { seq: number; stream: string; line: string }[] = [];
  for (;;) {
    const page = await cp.gql('query($id: ID!, $after: Int) { trainingJob(id: $id) { logs(after: $after, first: 1000) { seq stream line } } }', { id, after: logs.at(-1)?.seq ?? 0 });
    if (page.errors) throw new Error(JSON.stringify(page.errors));
    logs.push(...page.data.trainingJob.logs);
    if (page.data.trainingJob.logs.length < 1000) break;
  }
  return { ...r.data.trainingJob, logs };
}

/** Wait until the job reaches one of `statuses` (it gets there on its own), and return it. */
export function jobReaches(cp: TestControlPlane, id: string, statuses: string[], boundMs = 45_000): Promise<any> {
  return eventually(`job ${id} reaches ${statuses.join('|')}`, async () => {
    const j = await job(cp, id);
    return statuses.includes(j.status) ? j : undefined;
  }, boundMs);
}

/** A process that exists and is not a zombie (an orphan's zombie lingers until pid 1 reaps it). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
