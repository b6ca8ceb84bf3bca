// Runs a trainer on the runner's own machine: a child process spawned detached (its own session
// and process group), with exactly the contract's environment plus PATH and HOME, in the
// attempt's folder. Cancel and timeout signal the whole group — the trainer and every child it
// started — SIGTERM first, SIGKILL after the grace period; `done` resolves only when no process of
// the group is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { SluiceError } from '../../../lib/errors.js';
import type { Execution, ExecutionEnd, ExecutionSpec, Executor } from '../executor.js';
import { LineSplitter } from './lines.js';
import { groupAlive, signalGroup } from './process-group.js';
import { checkSpec, deadline, sleep, trainerEnv } from './spec.js';

export interface LocalExecutorOptions {
  /** Time between SIGTERM and SIGKILL on cancel/timeout; default 1500 ms, so a cancel lands within 2 s. */
  killGraceMs?: number;
}

/** How often the group is looked at while it is being stopped. */
const POLL_MS = 25;
/** A process that left the group (setsid) may hold the pipes open; stop waiting for them after this. */
const PIPE_CLOSE_WAIT_MS = 2000;

export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  readonly #killGraceMs: number;

  constructor(options: LocalExecutorOptions = {}) {
    const grace = options.killGraceMs ?? 1500;
    if (!Number.isFinite(grace) || grace < 0) throw new RangeError(`killGraceMs must be a non-negative number, got ${grace}`);
    this.#killGraceMs = grace;
  }

  async start(spec: ExecutionSpec, onLine: (stream: 'stdout' | 'stderr', line: string) => void): Promise<Execution> {
    checkSpec(spec);
    const [file, ...args] = spec.command as [string, ...string[]];
    const child = spawn(file, args, {
      cwd: spec.workDir,
      env: trainerEnv(spec),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Listen before the spawn settles: output can arrive in the same turn.
    const out = follow(child, 'stdout', onLine);
    const err = follow(child, 'stderr', onLine);
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      throw new SluiceError('SLUICE_E_TRAINING_START', `cannot start ${spec.jobId} attempt ${spec.attempt}: ${file}: ${code ?? String(cause)}`, { cause });
    }
    return new LocalExecution(child, spec, this.#killGraceMs, [out, err]);
  }
}

interface FollowedStream {
  closed: Promise<void>;
  abandon(): void;
}

function follow(child: ChildProcess, stream: 'stdout' | 'stderr', onLine: (stream: 'stdout' | 'stderr', line: string) => void): FollowedStream {
  const pipe = child[stream]!;
  const lines = new LineSplitter((line) => onLine(stream, line));
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    lines.end();
  };
  pipe.on('data', (chunk: Buffer) => lines.push(chunk));
  const closed = new Promise<void>((resolve) => {
    pipe.once('close', () => {
      finish();
      resolve();
    });
  });
  // A pipe error (EPIPE on a destroyed stream) ends the stream like a close; it must not throw.
  pipe.on('error', () => undefined);
  return {
    closed,
    abandon: () => {
      pipe.destroy();
      finish();
    },
  };
}

class LocalExecution implements Execution {
  readonly handle: string;
  readonly done: Promise<ExecutionEnd>;
  readonly #pgid: number;
  readonly #graceMs: number;
  /** Why the executor stopped the group, when it did; decided before the leader exits or never. */
  #stoppedFor: 'cancelled' | 'timed-out' | undefined;
  #leaderExited = false;
  #stopping: Promise<void> | undefined;
  #settled = false;

  constructor(child: ChildProcess, spec: ExecutionSpec, graceMs: number, streams: FollowedStream[]) {
    this.#pgid = child.pid!;
    this.handle = `pid:${child.pid}`;
    this.#graceMs = graceMs;
    const leaderExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#leaderExited = true;
        resolve({ code, signal });
      });
    });
    const cancelDeadline = deadline(spec.timeoutSeconds, () => this.#stop('timed-out'));
    this.done = (async (): Promise<ExecutionEnd> => {
      const { code, signal } = await leaderExit;
      cancelDeadline();
      // Children the trainer left behind are part of the attempt: stop them too.
      await this.#stopGroup();
      await Promise.race([Promise.all(streams.map((s) => s.closed)), sleep(PIPE_CLOSE_WAIT_MS)]);
      for (const s of streams) s.abandon();
      this.#settled = true;
      if (this.#stoppedFor) return { outcome: this.#stoppedFor };
      if (signal) return { outcome: 'killed', signal };
      return { outcome: 'exited', exitCode: code ?? -1 };
    })();
  }

  async cancel(): Promise<void> {
    if (this.#settled) return;
    this.#stop('cancelled');
    await this.done;
  }

  #stop(why: 'cancelled' | 'timed-out'): void {
    if (this.#leaderExited || this.#stoppedFor) {
      // Already ending on its own, or already being stopped: the first reason stands.
      return;
    }
    this.#stoppedFor = why;
    void this.#stopGroup();
  }

  #stopGroup(): Promise<void> {
    this.#stopping ??= (async () => {
      if (!signalGroup(this.#pgid, 'SIGTERM')) return;
      const killAt = Date.now() + this.#graceMs;
      while (groupAlive(this.#pgid) && Date.now() < killAt) await sleep(POLL_MS);
      if (!groupAlive(this.#pgid)) return;
      signalGroup(this.#pgid, 'SIGKILL');
      // SIGKILL cannot be refused; the bound only guards against a process stuck in the kernel (D state).
      const giveUpAt = Date.now() + 10_000;
      while (groupAlive(this.#pgid) && Date.now() < giveUpAt) await sleep(POLL_MS);
    })();
    return this.#stopping;
  }
}
