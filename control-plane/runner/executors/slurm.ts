// Hands a training attempt to a Slurm cluster: a batch script written into the attempt's folder
// (which must be on a filesystem the compute nodes share), submitted with `sbatch --parsable`,
// followed with `squeue`, its output files tailed by offset into `onLine`, cancelled with
// `scancel` (SIGTERM, then SIGKILL after the cluster's KillWait), and its end read from a marker file the script writes with the trainer's exit status
// (exact, and needs no accounting), backed by `scontrol show job` / `sacct` for how the job itself
// ended (signals, node failure, out of memory, Slurm's own time limit).
//
// Labels → resources:
//   gpu            --gres=gpu:1          gpu=N       --gres=gpu:N
//   partition=X    --partition=X         region=X    --partition=X (a region is a partition here)
//   any other      --constraint (all of them, joined with &: node features the job requires)
// With no partition label the executor's `partition` option (else the cluster default) is used.
//
// The trainer's environment is exactly the spec's plus PATH and HOME: the script runs it under
// `env -i` with every variable single-quoted, and is submitted with --export=NIL (no variable of
// the runner's environment reaches the job; NONE would make Slurm load a login environment).
//
// The timeout counts from when the job starts running (as Slurm's --time does, so queue time is
// not charged to it); --time is the timeout plus a minute, a backstop should the runner be gone,
// and the executor itself stops the job at the timeout and reports `timed-out`.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../../../lib/errors.js';
import type { Execution, ExecutionEnd, ExecutionSpec, Executor } from '../executor.js';
import { FileTail } from './file-tail.js';
import { SlurmCli, SlurmCommandFailed, isFinalState, signalName } from './slurm-cli.js';
import { checkSpec, deadline, trainerEnv } from './spec.js';

export interface SlurmExecutorOptions {
  /** Partition for jobs without a partition/region label; default: the cluster's default partition. */
  partition?: string;
  /** How often the job's state and output files are looked at; default 1000 ms. */
  pollIntervalMs?: number;
  /** Extra sbatch arguments for every job (e.g. --account=ml, --qos=low). */
  sbatchArgs?: string[];
  /** slurm.conf for the Slurm commands (SLURM_CONF); default: the runner's environment. */
  slurmConf?: string;
}

/** Files the executor keeps in the attempt's folder. */
export const SLURM_FILES = {
  script: 'slurm-batch.sh',
  stdout: 'slurm-stdout.log',
  stderr: 'slurm-stderr.log',
  exitStatus: 'slurm-exit-status',
} as const;

/** How long the controller may be unreachable before the attempt is given up as lost. */
const CONTROLLER_LOST_MS = 120_000;
const TIME_LIMIT_SLACK_SECONDS = 60;
const NAME = /^[A-Za-z0-9_.-]+$/;

export class SlurmExecutor implements Executor {
  readonly kind = 'slurm' as const;
  readonly #options: Required<Omit<SlurmExecutorOptions, 'partition' | 'slurmConf'>> & { partition: string | undefined };
  readonly #cli: SlurmCli;

  constructor(options: SlurmExecutorOptions = {}) {
    const pollIntervalMs = options.pollIntervalMs ?? 1000;
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 10) throw new RangeError(`pollIntervalMs must be at least 10, got ${pollIntervalMs}`);
    if (options.partition !== undefined && !NAME.test(options.partition)) throw new RangeError(`partition ${JSON.stringify(options.partition)} is not a Slurm partition name`);
    const sbatchArgs = options.sbatchArgs ?? [];
    if (!sbatchArgs.every((a) => typeof a === 'string')) throw new RangeError('sbatchArgs must be strings');
    this.#options = { partition: options.partition, pollIntervalMs, sbatchArgs };
    this.#cli = new SlurmCli(options.slurmConf);
  }

  async start(spec: ExecutionSpec, onLine: (stream: 'stdout' | 'stderr', line: string) => void): Promise<Execution> {
    checkSpec(spec);
    const resources = labelsToSbatch(spec.labels, this.#options.partition, spec);
    const script = join(spec.workDir, SLURM_FILES.script);
    // A folder used before must not lend this attempt an old exit status or old log lines.
    await Promise.all([SLURM_FILES.stdout, SLURM_FILES.stderr, SLURM_FILES.exitStatus].map((f) => rm(join(spec.workDir, f), { force: true })));
    await writeFile(script, batchScript(spec), { mode: 0o700 });
    const args = [
      `--job-name=${jobName(spec)}`,
      `--chdir=${spec.workDir}`,
      `--output=${join(spec.workDir, SLURM_FILES.stdout)}`,
      `--error=${join(spec.workDir, SLURM_FILES.stderr)}`,
      `--time=${Math.ceil((spec.timeoutSeconds + TIME_LIMIT_SLACK_SECONDS) / 60)}`,
      '--export=NIL',
      // One attempt is one run: retries are the runner's business, not Slurm's requeue.
      '--no-requeue',
      '--nodes=1',
      '--ntasks=1',
      ...resources,
      ...this.#options.sbatchArgs,
    ];
    let jobId: string;
    try {
      jobId = await this.#cli.sbatch(args, script);
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      const why = err instanceof SlurmCommandFailed ? err.stderr.trim() || err.message : String(err);
      throw new SluiceError('SLUICE_E_TRAINING_START', `cannot submit ${spec.jobId} attempt ${spec.attempt} to Slurm: ${why}`, {
        cause: err,
        details: { sbatchArgs: resources },
      });
    }
    return new SlurmExecution(jobId, spec, this.#cli, this.#options, onLine);
  }
}

/** sbatch options for a job's labels (see the table at the top). */
export function labelsToSbatch(labels: string[], defaultPartition: string | undefined, spec?: ExecutionSpec): string[] {
  const refuse = (what: string) => {
    throw new SluiceError('SLUICE_E_TRAINING_START', `cannot submit ${spec?.jobId ?? 'job'} to Slurm: ${what}`);
  };
  let partition: string | undefined;
  let gpus: number | undefined;
  const features: string[] = [];
  for (const label of labels) {
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    const value = eq < 0 ? undefined : label.slice(eq + 1);
    if (key === 'gpu') {
      const n = value === undefined ? 1 : Number(value);
      if (!Number.isInteger(n) || n < 1) refuse(`label ${label}: gpu count must be a positive integer`);
      gpus = n;
    } else if (key === 'partition' || key === 'region') {
      if (value === undefined || !NAME.test(value)) refuse(`label ${label}: not a partition name`);
      if (partition !== undefined && partition !== value) refuse(`labels ask for two partitions, ${partition} and ${value}`);
      partition = value;
    } else {
      if (!NAME.test(label)) refuse(`label ${label} is not a Slurm node feature (letters, digits, _ . -)`);
      features.push(label);
    }
  }
  const args: string[] = [];
  partition ??= defaultPartition;
  if (partition !== undefined) args.push(`--partition=${partition}`);
  if (gpus !== undefined) args.push(`--gres=gpu:${gpus}`);
  if (features.length > 0) args.push(`--constraint=${features.join('&')}`);
  return args;
}

function jobName(spec: ExecutionSpec): string {
  return `sluice-${spec.jobId}-a${spec.attempt}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
}

/** POSIX shell single quotes: nothing inside is special but the quote itself. */
function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The batch script: run the trainer with exactly its environment, then leave its exit status in
 * the marker file (written whole, then renamed) and exit with it. A script killed before that
 * leaves no marker, which is how the executor tells "the trainer exited" from "the job was killed".
 */
export function batchScript(spec: ExecutionSpec): string {
  const env = Object.entries(trainerEnv(spec)).map(([k, v]) => q(`${k}=${v}`));
  const marker = q(join(spec.workDir, SLURM_FILES.exitStatus));
  const tmp = q(join(spec.workDir, `.${SLURM_FILES.exitStatus}.tmp`));
  return [
    '#!/bin/sh',
    `# Sluice training attempt ${spec.attempt} of job ${spec.jobId}, written by the Slurm executor.`,
    `cd ${q(spec.workDir)} || exit 97`,
    `env -i ${env.join(' ')} ${spec.command.map(q).join(' ')} </dev/null`,
    'status=$?',
    `printf '%s\\n' "$status" > ${tmp} && mv -f ${tmp} ${marker}`,
    'exit "$status"',
    '',
  ].join('\n');
}

type Options = Required<Omit<SlurmExecutorOptions, 'partition' | 'slurmConf'>>;

class SlurmExecution implements Execution {
  readonly handle: string;
  readonly done: Promise<ExecutionEnd>;
  readonly #jobId: string;
  readonly #spec: ExecutionSpec;
  readonly #cli: SlurmCli;
  readonly #options: Options;
  readonly #tails: FileTail[];
  #stoppedFor: 'cancelled' | 'timed-out' | undefined;
  #stopping: Promise<void> | undefined;
  #finished = false;
  #wake: (() => void) | undefined;
  #cancelDeadline: (() => void) | undefined;

  constructor(jobId: string, spec: ExecutionSpec, cli: SlurmCli, options: Options, onLine: (stream: 'stdout' | 'stderr', line: string) => void) {
    this.#jobId = jobId;
    this.handle = `slurm:${jobId}`;
    this.#spec = spec;
    this.#cli = cli;
    this.#options = options;
    this.#tails = [
      new FileTail(join(spec.workDir, SLURM_FILES.stdout), (l) => onLine('stdout', l)),
      new FileTail(join(spec.workDir, SLURM_FILES.stderr), (l) => onLine('stderr', l)),
    ];
    this.done = this.#follow().then(
      (end) => end,
      (err: unknown) => ({ outcome: 'lost', reason: `following Slurm job ${jobId} failed: ${err instanceof Error ? err.message : String(err)}` }) as const,
    ).finally(() => {
      this.#finished = true;
      this.#cancelDeadline?.();
    });
  }

  async cancel(): Promise<void> {
    if (this.#finished) return;
    this.#stop('cancelled');
    await this.done;
  }

  #stop(why: 'cancelled' | 'timed-out'): void {
    if (this.#finished || this.#stoppedFor) return;
    this.#stoppedFor = why;
    this.#stopping = this.#stopJob().catch(() => undefined);
    this.#wake?.();
  }

  /**
   * Plain scancel: Slurm sends SIGCONT and SIGTERM to every step of the job, the batch script
   * included, and SIGKILL after the cluster's KillWait; the job stays COMPLETING until its
   * processes are gone. (Measured on Slurm 22.05: `scancel --signal=TERM --full` does not reach a
   * batch job's processes at all, and `--signal=KILL` takes the same path as a plain scancel, so
   * the grace between TERM and KILL is the cluster's KillWait, not the executor's.)
   */
  async #stopJob(): Promise<void> {
    await this.#cli.scancel(this.#jobId);
  }

  async #follow(): Promise<ExecutionEnd> {
    let lastAnswer = Date.now();
    let state: string | undefined;
    for (;;) {
      await Promise.all(this.#tails.map((t) => t.read()));
      try {
        state = await this.#cli.state(this.#jobId);
        lastAnswer = Date.now();
      } catch (err) {
        if (Date.now() - lastAnswer > CONTROLLER_LOST_MS) {
          await this.#stopping;
          return { outcome: 'lost', reason: `Slurm did not answer for ${CONTROLLER_LOST_MS / 1000} s about job ${this.#jobId}: ${(err as Error).message}` };
        }
        await this.#pause();
        continue;
      }
      if (state === 'RUNNING' && this.#cancelDeadline === undefined) {
        this.#cancelDeadline = deadline(this.#spec.timeoutSeconds, () => this.#stop('timed-out'));
      }
      if (state === undefined || isFinalState(state)) break;
      await this.#pause();
    }
    await this.#stopping;
    await Promise.all(this.#tails.map((t) => t.end()));
    return this.#outcome(state);
  }

  /** Wait one poll interval, or less when a cancel or timeout wants the loop to look now. */
  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#options.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #outcome(lastState: string | undefined): Promise<ExecutionEnd> {
    if (this.#stoppedFor) return { outcome: this.#stoppedFor };
    const record = await this.#cli.record(this.#jobId);
    const state = record?.state ?? lastState;
    if (state === 'TIMEOUT' || state === 'DEADLINE') return { outcome: 'timed-out' };
    if (state === 'OUT_OF_MEMORY') return { outcome: 'killed', signal: 'SIGKILL' };
    const marker = await readFile(join(this.#spec.workDir, SLURM_FILES.exitStatus), 'utf8').catch(() => undefined);
    if (marker !== undefined && /^\d+\s*$/.test(marker)) return { outcome: 'exited', exitCode: Number(marker) };
    // No marker: the batch script itself did not finish.
    if (state === 'NODE_FAIL' || state === 'BOOT_FAIL' || state === 'PREEMPTED') return { outcome: 'killed', signal: state };
    if (record && record.signal > 0) return { outcome: 'killed', signal: signalName(record.signal) };
    if (state === 'CANCELLED') return { outcome: 'killed', signal: 'SIGTERM' };
    if (record) return { outcome: 'exited', exitCode: record.exitCode };
    return { outcome: 'lost', reason: `Slurm job ${this.#jobId} vanished: not in squeue, no record in scontrol or sacct, and no exit status file` };
  }
}
