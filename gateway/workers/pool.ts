// The pool of ORT worker threads (piscina). Each worker holds the sessions of the model versions
// it has been asked to run; the batcher bounds how many batches of one version run at once
// (`instances`). A worker that dies is replaced by piscina; the tasks it held reject here with a
// coded 500 and nothing waits forever.
import { usableCores } from '../../lib/cpu-limit.js';
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { SluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import {
  SESSION_CHANNEL, type LoadResult, type ReleaseMessage, type RunResult, type RunTask, type SessionSpec, type WireTensor,
  type WorkerData, type WorkerTask,
} from '../util/worker-messages.js';
import { outcomeError, type TaskOutcome } from './run-batch.js';

export interface WorkerPoolOptions {
  /** Worker threads; default one per core (measured: N single-threaded sessions beat one N-threaded). */
  threads?: number | undefined;
  /**
   * Module URLs every worker imports before its first task, e.g. to register batch observer
   * factories (see observers.ts) without editing the worker entry.
   */
  preload?: string[] | undefined;
  logger: Logger;
}

export interface RunOptions {
  /** A warm-up run on synthetic inputs (batch observers skip it). */
  warmup?: boolean;
  /** ms since the epoch: skip the run if it has not started by then (SLUICE_E_BATCH_TIMEOUT). */
  notAfter?: number | undefined;
  /**
   * A batch formed ahead while its model's instances are busy (dynamic_batching.staged_batches):
   * it goes to a worker at once and waits there behind the running batch, so that worker starts it
   * the moment it finishes, without a round trip through the main thread.
   */
  staged?: boolean;
}

export class WorkerPool {
  readonly #piscina: Piscina<WorkerTask, TaskOutcome<unknown>>;
  readonly #channel = new BroadcastChannel(SESSION_CHANNEL);
  readonly #logger: Logger;
  readonly size: number;
  /**
   * True when the workers import modules the main thread does not (`preload`): their batch
   * observers would miss a batch run on the main thread, so no version runs inline then.
   */
  readonly preloaded: boolean;
  /** Tasks handed to piscina and not yet settled (running, or staged behind a running one). */
  #inWorkers = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: WorkerPoolOptions) {
    const threads = options.threads ?? usableCores();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'worker pool option threads must be an integer from 1 to 256');
    }
    this.size = threads;
    this.preloaded = (options.preload ?? []).length > 0;
    this.#logger = options.logger;
    this.#piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      // Room for one staged batch behind the running one. Only batches staged on purpose take it:
      // every other task waits in this pool's queue (#call) until a worker is idle, and then goes to
      // that worker (piscina picks the least busy), so it never waits behind another model's batch.
      concurrentTasksPerWorker: 2,
      // Piscina's run/wait-time histograms are read by nobody here (the gateway's own metrics time
      // each batch): not recorded, work the main thread skips on every task.
      recordTiming: false,
      workerData: { preload: options.preload ?? [] } satisfies WorkerData,
    });
    this.#piscina.on('error', (err: unknown) => this.#logger.error({ err }, 'worker pool error'));
    this.#channel.unref();
  }

  /** The live worker threads (tests kill one to check crash handling). */
  get threads(): Worker[] {
    return this.#piscina.threads;
  }

  /**
   * Open the session of a model version, on every worker when the pool is idle (one task per
   * thread; a busy worker opens it lazily on its first batch). Resolves with the model's metadata.
   */
  async load(spec: SessionSpec): Promise<LoadResult> {
    const tasks = Array.from({ length: this.size }, () => this.#call<LoadResult>({ op: 'load', spec }, undefined));
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const first = results[0] as PromiseFulfilledResult<LoadResult>;
    if (!first.value.executionProviders.includes(spec.executionProviders[0]!)) {
      this.#logger.warn({ model: spec.model, version: spec.version, wanted: spec.executionProviders, using: first.value.executionProviders }, 'execution provider unavailable, using CPU');
    }
    return first.value;
  }

  /** Run one batch; the input buffers are transferred (the caller must not touch them afterwards). */
  run(spec: SessionSpec, inputs: WireTensor[], outputs: string[], options: RunOptions = {}): Promise<RunResult> {
    const transfer: ArrayBuffer[] = [];
    for (const t of inputs) if (!Array.isArray(t.data)) transfer.push((t.data as ArrayBufferView).buffer as ArrayBuffer);
    const task: RunTask = { op: 'run', spec, inputs, outputs };
    if (options.warmup === true) task.warmup = true;
    if (options.notAfter !== undefined) task.notAfter = options.notAfter;
    return this.#call<RunResult>(task, transfer, options.staged === true);
  }

  /** Tasks waiting in this pool's queue for an idle worker (staged batches never wait here). */
  get queued(): number {
    return this.#waiting.length;
  }

  /** True while no worker has a task (none waits in this pool's queue then either). */
  get allIdle(): boolean {
    return this.#inWorkers === 0;
  }

  /** Tell every worker to drop a model version's session. */
  release(key: string): void {
    this.#channel.postMessage({ release: key } satisfies ReleaseMessage);
  }

  /**
   * Stop the workers once their running batches are done: terminating a worker while it is inside
   * session.run aborts the whole process (the ORT binding throws from native code into a dying
   * isolate), so running tasks are always waited for.
   */
  async close(): Promise<void> {
    this.#channel.close();
    await this.#piscina.close();
  }

  async #call<T>(task: WorkerTask, transferList: ArrayBuffer[] | undefined, staged = false): Promise<T> {
    // Fewer tasks in the workers than workers means one of them is idle. A waiting task is handed
    // the finished task's place (already counted), so no other task can take it in between.
    if (!staged && this.#inWorkers >= this.size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#inWorkers++;
    let outcome: TaskOutcome<unknown>;
    try {
      outcome = await this.#piscina.run(task, transferList ? { transferList } : {});
    } catch (err) {
      throw new SluiceError('SLUICE_E_WORKER_CRASHED', 'the inference worker running this request stopped; retry', { cause: err, retryAfter: 1 });
    } finally {
      const next = this.#inWorkers <= this.size ? this.#waiting.shift() : undefined;
      if (next !== undefined) next();
      else this.#inWorkers--;
    }
    if (outcome.ok) return outcome.value as T;
    throw outcomeError(task.spec, outcome);
  }
}
