// A model version's session on the main thread, for the lone calls the inline gate sends there
// (batching/inline.ts). It is the workers' session code (sessions.ts, run-batch.ts) run on this
// thread: the same options, the same batch observers (drift), the same outputs and error codes.
import { openSession, releaseSession, type OpenSession } from './sessions.js';
import { outcomeError, runBatch } from './run-batch.js';
import type { RunResult, RunTask, SessionSpec, WireTensor } from '../util/worker-messages.js';

/** No output names: the session returns all of them (runBatch only reads the length). */
const ALL_OUTPUTS: string[] = [];

export class InlineRunner {
  readonly #open: OpenSession;

  private constructor(open: OpenSession) {
    this.#open = open;
  }

  /** Open the version's session on this thread (the spec's key names it, as in the workers). */
  static async open(spec: SessionSpec): Promise<InlineRunner> {
    return new InlineRunner(await openSession(spec));
  }

  /** The execution provider the session runs on (inline runs only ever use a CPU session). */
  get executionProvider(): string | undefined {
    return this.#open.executionProviders[0];
  }

  /** Run one batch; its input buffers come back in `recycled` as from a worker. */
  async run(inputs: WireTensor[], warmup = false): Promise<RunResult> {
    // One plain literal per call (this is the hot path at one connection): no spread, shared outputs.
    const task: RunTask = { op: 'run', spec: this.#open.spec, inputs, outputs: ALL_OUTPUTS };
    if (warmup) task.warmup = true;
    const { outcome } = await runBatch(this.#open, task, true);
    if (outcome.ok) return outcome.value;
    throw outcomeError(this.#open.spec, outcome);
  }

  close(): Promise<void> {
    return releaseSession(this.#open.spec.key);
  }
}
