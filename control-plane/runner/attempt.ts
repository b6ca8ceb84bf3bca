// One claimed attempt, start to finish, on the runner: fetch the dataset and check its SHA-256,
// validate it (schema, drift), run the trainer through the executor while streaming its lines and
// renewing the lease (which also carries cancel requests), check what it left, and report the end
// with model.onnx, the drift profile and the metrics. A lost lease stops everything and reports
// nothing: the attempt is no longer this runner's.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openAsBlob, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { DriftProfile } from '../../gateway/drift/profile.js';
import { profileFromDataset } from '../services/dataset-profile.js';
import { readOnnxSignature } from '../services/onnx-signature.js';
import { builtinDigest, DEFAULT_DRIFT_PSI, type DataSchema } from '../services/training-values.js';
import type { ControlPlaneClient } from './client.js';
import { readTable, validateDataset } from './data-validation.js';
import type { Execution, ExecutionEnd, Executor } from './executor.js';

/** What `claimTrainingJob` answers, as the runner reads it. */
export interface Claim {
  attempt: number;
  leaseSeconds: number;
  dataSchema: DataSchema | null;
  production: { version: number; profile: DriftProfile | null } | null;
  job: {
    id: string;
    model: string;
    trainer: { kind: 'COMMAND' | 'BUILTIN'; command: string[] | null; builtin: string | null; digest: string | null };
    dataset: { url: string; sha256: string };
    parameters: Record<string, unknown>;
    labels: string[];
    timeoutSeconds: number;
  };
}

export const CLAIM_FIELDS = `attempt leaseSeconds dataSchema { columns { name type min max categories maxMissingRate } driftPsi }
  production { version profile }
  job { id model trainer { kind command builtin digest } dataset { url sha256 } parameters labels timeoutSeconds }`;

const BUILTIN_SCRIPTS: Record<string, string> = {
  'weather-mlp': fileURLToPath(new URL('../../examples/trainers/weather-builtin.js', import.meta.url)),
};
const TAIL_LINES = 20;
const FLUSH_MS = 250;

type Outcome = 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

class Stop extends Error {
  constructor(
    readonly outcome: Outcome,
    readonly error: SluiceError | null,
  ) {
    super(error?.message ?? outcome);
  }
}

function fail(code: ConstructorParameters<typeof SluiceError>[0], message: string, details?: Record<string, unknown>): Stop {
  return new Stop('FAILED', new SluiceError(code, message, details ? { details } : {}));
}

export interface AttemptOptions {
  client: ControlPlaneClient;
  executor: Executor;
  workRoot: string;
  logger: Logger;
  /** How often the lease is renewed (and cancel requests seen); at most a third of the lease. */
  heartbeatMs: number;
}

export class AttemptRun {
  private lines: { stream: string; line: string }[] = [];
  private tail: string[] = [];
  private metrics: Record<string, number> = {};
  private metricsDirty = false;
  private execution: Execution | undefined;
  private cancelRequested = false;
  private leaseLost = false;
  private flushing: Promise<void> = Promise.resolve();
  /** The SLUICE_E_* code the attempt ended with (undefined: it succeeded, or has not ended). */
  errorCode: string | undefined;
  private readonly workDir: string;
  private readonly outDir: string;

  constructor(
    private readonly claim: Claim,
    private readonly o: AttemptOptions,
  ) {
    this.workDir = join(o.workRoot, `${claim.job.id}-${claim.attempt}`);
    this.outDir = join(this.workDir, 'output');
  }

  private get key() {
    return { jobId: this.claim.job.id, attempt: this.claim.attempt };
  }

  /** Runs the attempt and reports its end; resolves with the outcome reported (undefined: the lease was lost). */
  async run(): Promise<Outcome | undefined> {
    mkdirSync(this.outDir, { recursive: true });
    const beat = setInterval(() => void this.heartbeat(), Math.max(100, Math.min(this.o.heartbeatMs, (this.claim.leaseSeconds * 1000) / 3)));
    const flush = setInterval(() => void this.flush(), FLUSH_MS);
    let result: { outcome: Outcome; error: SluiceError | null; files?: Record<string, Blob>; trainerDigest?: string | null };
    try {
      result = { outcome: 'SUCCEEDED', error: null, ...(await this.train()) };
    } catch (err) {
      result = err instanceof Stop ? { outcome: err.outcome, error: err.error } : { outcome: 'FAILED', error: toSluiceError(err, 'SLUICE_E_TRAINING_FAILED', true) };
    } finally {
      clearInterval(beat);
      clearInterval(flush);
    }
    this.errorCode = this.leaseLost ? 'SLUICE_E_TRAINING_LEASE_LOST' : result.error?.code;
    if (this.leaseLost) {
      this.o.logger.warn(this.key, 'attempt given up (lease lost, or the runner is stopping); nothing reported: the control plane re-queues it when the lease runs out');
      return undefined;
    }
    if (result.error) this.say(`${result.outcome.toLowerCase()}: ${result.error.message} (${result.error.code})`);
    await this.flush();
    try {
      const input = {
        ...this.key,
        outcome: result.outcome,
        error: result.error ? { code: result.error.code, message: result.error.message, details: result.error.details ?? null } : null,
        metrics: Object.entries(this.metrics).map(([name, value]) => ({ name, value })),
        trainerDigest: result.trainerDigest ?? null,
      };
      const query = 'mutation($input: FinishTrainingAttemptInput!) { finishTrainingAttempt(input: $input) { status error { code } } }';
      const done = result.files ? await this.o.client.upload(query, input, result.files) : await this.o.client.request(query, { input });
      this.o.logger.info({ ...this.key, status: done.finishTrainingAttempt.status, error: done.finishTrainingAttempt.error?.code }, 'attempt finished');
    } catch (err) {
      this.o.logger.warn({ ...this.key, err }, 'could not report the end of the attempt; its lease will run out and the control plane decides');
      return undefined;
    }
    return result.outcome;
  }

  private async train(): Promise<{ files: Record<string, Blob>; trainerDigest: string }> {
    const { job } = this.claim;
    const dataset = await this.fetchDataset();
    this.validate(dataset);
    const { command, digest } = this.trainerCommand();
    if (this.cancelRequested) throw new Stop('CANCELLED', null);
    const env: Record<string, string> = {
      SLUICE_DATASET: dataset,
      SLUICE_OUTPUT_DIR: this.outDir,
      SLUICE_PARAMS: JSON.stringify(job.parameters),
      SLUICE_JOB_ID: job.id,
      SLUICE_ATTEMPT: String(this.claim.attempt),
      SLUICE_MODEL: job.model,
    };
    for (const [k, v] of Object.entries(job.parameters)) env[`SLUICE_PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = typeof v === 'string' ? v : JSON.stringify(v);
    this.say(`running ${command.join(' ')} (trainer ${digest}) with ${this.o.executor.kind} executor`);
    this.execution = await this.o.executor.start({ ...this.key, command, env, workDir: this.workDir, labels: job.labels, timeoutSeconds: job.timeoutSeconds }, (stream, line) => this.onLine(stream, line));
    if (this.cancelRequested || this.leaseLost) void this.execution.cancel();
    this.ended(await this.execution.done);
    return { files: await this.collect(dataset), trainerDigest: digest };
  }

  private async fetchDataset(): Promise<string> {
    const { url, sha256 } = this.claim.job.dataset;
    let path: string;
    if (/^https?:\/\//.test(url)) {
      path = join(this.workDir, 'dataset');
      const res = await fetch(url).catch((err: unknown) => {
        throw fail('SLUICE_E_TRAINING_DATASET_UNREADABLE', `dataset ${url} cannot be downloaded: ${(err as Error).message}`, { url });
      });
      if (!res.ok) throw fail('SLUICE_E_TRAINING_DATASET_UNREADABLE', `dataset ${url} answered HTTP ${res.status}`, { url, status: res.status });
      writeFileSync(path, new Uint8Array(await res.arrayBuffer()));
    } else {
      path = url.startsWith('file://') ? fileURLToPath(url) : url;
      if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw fail('SLUICE_E_TRAINING_DATASET_UNREADABLE', `dataset ${path} is not a file on this runner's machine`, { url });
    }
    const found = await sha256Of(path);
    if (found !== sha256) throw fail('SLUICE_E_TRAINING_DATASET_DIGEST', `dataset ${url} has sha256 ${found}, the job expects ${sha256}`, { url, expected: sha256, found });
    this.say(`dataset ${url}: sha256 ${found} checked`);
    return path;
  }

  /** Schema checks stop the job; drift against production only flags it. Both go into the job's record. */
  private validate(dataset: string): void {
    const { production } = this.claim;
    const dataSchema = schemaOf(this.claim.dataSchema);
    if (dataSchema === null && !production?.profile) return;
    let table;
    try {
      table = readTable(dataset);
    } catch (err) {
      if (dataSchema !== null) throw new Stop('FAILED', toSluiceError(err, 'SLUICE_E_TRAINING_DATASET_UNREADABLE', true));
      this.say(`drift check skipped: ${(err as Error).message}`);
      return;
    }
    const report = validateDataset(table, dataSchema, production ? { version: production.version, profile: production.profile } : null, DEFAULT_DRIFT_PSI);
    const drifted = (report.drift?.drifted.length ?? 0) > 0;
    // In the same queue as the log lines, so it is stored before the attempt's end is reported.
    this.flushing = this.flushing.then(() => this.report({ validation: report, drifted }));
    if (report.drift) this.say(`drift against version ${report.drift.productionVersion}: ${report.drift.features.map((f) => `${f.feature} PSI ${f.psi}`).join(', ') || 'no shared features'}${drifted ? ` — DRIFTED: ${report.drift.drifted.join(', ')}` : ''}`);
    if (!report.ok) {
      throw fail('SLUICE_E_TRAINING_DATA_INVALID', `dataset fails the data schema of ${this.claim.job.model}: ${report.failures.map((f) => `${f.column}: expected ${f.expected}, found ${f.found}`).join('; ')}`, { failures: report.failures });
    }
    if (dataSchema !== null) this.say(`dataset passes the data schema of ${this.claim.job.model} (${report.rows} rows)`);
  }

  private trainerCommand(): { command: string[]; digest: string } {
    const t = this.claim.job.trainer;
    if (t.kind === 'BUILTIN') {
      const script = BUILTIN_SCRIPTS[t.builtin ?? ''];
      if (!script) throw fail('SLUICE_E_TRAINING_TRAINER_DIGEST', `this runner has no builtin trainer ${t.builtin}`, { builtin: t.builtin });
      return { command: [process.execPath, script], digest: builtinDigest(t.builtin as 'weather-mlp') };
    }
    const command = t.command ?? [];
    const file = trainerFile(command);
    if (file === undefined) throw fail('SLUICE_E_TRAINING_TRAINER_DIGEST', `no trainer file found for ${command.join(' ')} (give absolute paths)`, { command });
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    if (t.digest !== null && t.digest !== digest) throw fail('SLUICE_E_TRAINING_TRAINER_DIGEST', `trainer ${file} has sha256 ${digest}, the job expects ${t.digest}`, { file, expected: t.digest, found: digest });
    return { command, digest };
  }

  private ended(end: ExecutionEnd): void {
    const lastLines = this.tail.slice(-TAIL_LINES);
    if (end.outcome === 'exited' && end.exitCode === 0) return;
    if (end.outcome === 'cancelled') throw new Stop('CANCELLED', new SluiceError('SLUICE_E_TRAINING_STATE', 'cancelled: the trainer\'s process tree was killed'));
    if (end.outcome === 'timed-out') throw new Stop('TIMED_OUT', new SluiceError('SLUICE_E_TRAINING_TIMED_OUT', `the trainer ran past the job's timeout of ${this.claim.job.timeoutSeconds} s and was killed`, { details: { timeoutSeconds: this.claim.job.timeoutSeconds, lastLines } }));
    if (end.outcome === 'exited') throw fail('SLUICE_E_TRAINING_TRAINER_EXIT', `the trainer exited with status ${end.exitCode}; last lines:\n${lastLines.join('\n')}`, { exitCode: end.exitCode, lastLines });
    if (end.outcome === 'killed') throw fail('SLUICE_E_TRAINING_FAILED', `the trainer was killed by ${end.signal}; last lines:\n${lastLines.join('\n')}`, { signal: end.signal, lastLines });
    throw fail('SLUICE_E_TRAINING_FAILED', `the executor lost the trainer: ${end.reason}`, { reason: end.reason });
  }

  /** model.onnx must load in ONNX Runtime; metrics.json wins over the JSON lines; the profile comes from the trainer, its inputs.csv or the dataset. */
  private async collect(dataset: string): Promise<Record<string, Blob>> {
    const model = join(this.outDir, 'model.onnx');
    if (!existsSync(model)) throw fail('SLUICE_E_TRAINING_NO_MODEL', `the trainer exited 0 but left no model.onnx in SLUICE_OUTPUT_DIR`, { files: [] });
    try {
      const session = await ort.InferenceSession.create(model);
      await session.release();
    } catch (err) {
      throw fail('SLUICE_E_TRAINING_MODEL_INVALID', `model.onnx does not load in ONNX Runtime: ${(err as Error).message.split('\n')[0]}`);
    }
    const metricsFile = join(this.outDir, 'metrics.json');
    if (existsSync(metricsFile)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(metricsFile, 'utf8'));
      } catch (err) {
        throw fail('SLUICE_E_TRAINING_NO_MODEL', `metrics.json is not JSON: ${(err as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('SLUICE_E_TRAINING_NO_MODEL', 'metrics.json must be an object of metric name → number');
      // metrics.json is the trainer's final word: it replaces the progress lines' values.
      this.metrics = Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
    }
    const files: Record<string, Blob> = { model: await openAsBlob(model) };
    const profileFile = join(this.outDir, 'profile.json');
    if (existsSync(profileFile)) files.profile = await openAsBlob(profileFile);
    else {
      // inputs.csv: the training rows as the model takes them, for datasets whose columns are not its input.
      const inputs = join(this.outDir, 'inputs.csv');
      const source = existsSync(inputs) ? inputs : dataset;
      try {
        const profile = profileFromDataset(source, this.claim.job.model, readOnnxSignature(readFileSync(model)));
        files.profile = new Blob([JSON.stringify(profile)]);
        this.say(`drift profile computed from ${source === inputs ? "the trainer's inputs.csv" : 'the dataset'} (${String(profile.source.rows)} rows)`);
      } catch (err) {
        this.say(`no drift profile: the trainer left no profile.json and the dataset gives none (${(err as Error).message})`);
      }
    }
    return files;
  }

  private onLine(stream: 'stdout' | 'stderr', line: string): void {
    this.lines.push({ stream, line });
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (stream !== 'stdout' || !line.startsWith('{')) return;
    try {
      const record = JSON.parse(line) as unknown;
      if (record === null || typeof record !== 'object' || Array.isArray(record)) return;
      for (const [k, v] of Object.entries(record)) {
        if (typeof v === 'number' && Number.isFinite(v) && k !== 'epoch' && k !== 'step') {
          this.metrics[k] = v;
          this.metricsDirty = true;
        }
      }
    } catch {
      // not JSON: a plain log line
    }
  }

  /** A line of the runner's own about the attempt, in the job's log. */
  private say(message: string): void {
    this.lines.push({ stream: 'stderr', line: `[sluice-runner] ${message}` });
  }

  /** The runner is stopping: kill the trainer and report nothing (the lease runs out; the job is re-queued). */
  async abandon(): Promise<void> {
    this.leaseLost = true;
    await this.execution?.cancel();
  }

  private async heartbeat(): Promise<void> {
    if (this.leaseLost) return;
    try {
      const { renewTrainingLease } = await this.o.client.request('mutation($input: TrainingAttemptInput!) { renewTrainingLease(input: $input) { cancelRequested } }', { input: this.key });
      if (renewTrainingLease.cancelRequested && !this.cancelRequested) {
        this.cancelRequested = true;
        this.say('cancel requested: killing the trainer');
        void this.execution?.cancel();
      }
    } catch (err) {
      if ((err as SluiceError).code !== 'SLUICE_E_TRAINING_LEASE_LOST') {
        this.o.logger.warn({ ...this.key, err }, 'lease renewal failed; trying again');
        return;
      }
      this.leaseLost = true;
      void this.execution?.cancel();
    }
  }

  private flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.leaseLost || (this.lines.length === 0 && !this.metricsDirty)) return;
      const lines = this.lines.splice(0, 2000);
      this.metricsDirty = false;
      await this.report({ lines, metrics: Object.entries(this.metrics).map(([name, value]) => ({ name, value })) });
    });
    return this.flushing;
  }

  private async report(fields: Record<string, unknown>): Promise<void> {
    try {
      await this.o.client.request('mutation($input: ReportTrainingProgressInput!) { reportTrainingProgress(input: $input) { cancelRequested } }', { input: { ...this.key, ...fields } });
    } catch (err) {
      if ((err as SluiceError).code === 'SLUICE_E_TRAINING_LEASE_LOST') {
        this.leaseLost = true;
        void this.execution?.cancel();
      } else this.o.logger.warn({ ...this.key, err }, 'progress report failed');
    }
  }
}

/** The file whose sha256 is a command trainer's digest: the first argument that is a file (the script), else the executable. */
export function trainerFile(command: string[]): string | undefined {
  for (const arg of command.slice(1)) if (isAbsolute(arg) && statSync(arg, { throwIfNoEntry: false })?.isFile()) return arg;
  const exe = command[0] ?? '';
  if (exe.includes('/')) return statSync(exe, { throwIfNoEntry: false })?.isFile() ? exe : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, exe);
    if (dir !== '' && statSync(p, { throwIfNoEntry: false })?.isFile()) return p;
  }
  return undefined;
}

/** The schema as GraphQL sends it (enum names, nulls for what is not declared) → the validator's. */
function schemaOf(raw: DataSchema | null): DataSchema | null {
  if (raw === null) return null;
  return {
    driftPsi: raw.driftPsi,
    columns: raw.columns.map((c) => ({
      name: c.name,
      type: c.type.toLowerCase() as DataSchema['columns'][number]['type'],
      maxMissingRate: c.maxMissingRate ?? 0,
      ...(c.min === null || c.min === undefined ? {} : { min: c.min }),
      ...(c.max === null || c.max === undefined ? {} : { max: c.max }),
      ...(c.categories === null || c.categories === undefined ? {} : { categories: c.categories }),
    })),
  };
}

function sha256Of(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
