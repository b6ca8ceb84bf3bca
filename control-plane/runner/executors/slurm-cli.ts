// Slurm's command-line tools as functions: each runs through execFile (argv, no shell) with a
// timeout, and its output is parsed here and nowhere else. Tested against Debian's slurm-wlm 22.05.
import { execFile } from 'node:child_process';
import { constants } from 'node:os';
import { SluiceError } from '../../../lib/errors.js';

/** A Slurm tool ran and said no: its exit status and what it printed on stderr. */
export class SlurmCommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly status: number | string | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (${status}): ${stderr.trim() || '(no output)'}`);
  }
}

const COMMAND_TIMEOUT_MS = 30_000;

export class SlurmCli {
  readonly #env: NodeJS.ProcessEnv;

  /** `slurmConf` sets SLURM_CONF for every command; otherwise the runner's own environment decides. */
  constructor(slurmConf?: string) {
    this.#env = slurmConf === undefined ? process.env : { ...process.env, SLURM_CONF: slurmConf };
  }

  run(command: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(command, args, { env: this.#env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (e.code === 'ENOENT') {
          return reject(new SluiceError('SLUICE_E_TRAINING_EXECUTOR', `${command} not found on this runner (install Slurm's client tools, e.g. apt-get install slurm-client)`, { cause: err }));
        }
        const status = e.killed ? `timed out after ${COMMAND_TIMEOUT_MS} ms` : typeof e.code === 'number' ? e.code : (e.signal ?? null);
        reject(new SlurmCommandFailed(`${command} ${args.join(' ')}`, status, stderr));
      });
    });
  }

  /** Submit a batch script; the job id. */
  async sbatch(args: string[], script: string): Promise<string> {
    const out = (await this.run('sbatch', ['--parsable', ...args, script])).trim();
    // --parsable prints "jobid" or "jobid;cluster".
    const id = out.split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new SlurmCommandFailed('sbatch', 0, `unexpected output: ${out}`);
    return id;
  }

  /** The job's state (PENDING, RUNNING, COMPLETED, ...), or undefined once the controller has forgotten it. */
  async state(jobId: string): Promise<string | undefined> {
    try {
      const out = await this.run('squeue', ['-h', '-j', jobId, '-t', 'all', '-o', '%T']);
      return out.trim().split('\n')[0]?.trim() || undefined;
    } catch (err) {
      if (err instanceof SlurmCommandFailed && /invalid job id/i.test(err.stderr)) return undefined;
      throw err;
    }
  }

  /**
   * How a finished job ended: from the controller while it remembers the job (MinJobAge), else
   * from accounting (sacct) when the cluster has it. Undefined when neither knows the job.
   */
  async record(jobId: string): Promise<JobRecord | undefined> {
    try {
      const out = await this.run('scontrol', ['show', 'job', '-o', jobId]);
      const state = /\bJobState=(\S+)/.exec(out)?.[1];
      const exit = /\bExitCode=(\d+):(\d+)/.exec(out);
      if (state && exit) return { state, exitCode: Number(exit[1]), signal: Number(exit[2]), source: 'scontrol' };
    } catch (err) {
      if (!(err instanceof SlurmCommandFailed)) throw err;
    }
    try {
      const out = await this.run('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'State,ExitCode']);
      const [state, exit] = (out.trim().split('\n')[0] ?? '').split('|');
      const m = /^(\d+):(\d+)$/.exec(exit ?? '');
      // sacct writes "CANCELLED by 0" for a cancelled job.
      if (state && m) return { state: state.split(' ')[0]!, exitCode: Number(m[1]), signal: Number(m[2]), source: 'sacct' };
    } catch (err) {
      // "Slurm accounting storage is disabled" on a cluster without slurmdbd.
      if (!(err instanceof SlurmCommandFailed)) throw err;
    }
    return undefined;
  }

  /** Cancel the job; one that already ended (or is ending) is not an error. */
  async scancel(jobId: string): Promise<void> {
    try {
      await this.run('scancel', [jobId]);
    } catch (err) {
      if (err instanceof SlurmCommandFailed && /already completing or completed|invalid job id/i.test(err.stderr)) return;
      throw err;
    }
  }
}

export interface JobRecord {
  state: string;
  exitCode: number;
  /** The signal that ended the batch script, 0 when it exited. */
  signal: number;
  source: 'scontrol' | 'sacct';
}

/** States after which no process of the job runs (COMPLETING is not one: processes may remain). */
const FINAL = new Set(['BOOT_FAIL', 'CANCELLED', 'COMPLETED', 'DEADLINE', 'FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'TIMEOUT', 'SPECIAL_EXIT']);

export function isFinalState(state: string): boolean {
  return FINAL.has(state);
}

export function signalName(signal: number): string {
  const found = Object.entries(constants.signals).find(([, n]) => n === signal);
  return found ? found[0] : `signal ${signal}`;
}
