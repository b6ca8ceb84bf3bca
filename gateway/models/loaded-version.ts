// One loaded version of a model: its signature, its batcher and the worker sessions behind it.
// Several versions of a model (and several generations of one version, during a reload) live side
// by side; a version is READY only after its warm-up runs have finished.
import { join } from 'node:path';
import { SluiceError, isSluiceError, toSluiceError } from '../../lib/errors.js';
import { Batcher, batcherOptionsFromConfig, systemClock, type BatcherClock, type EnqueueOptions } from '../batching/batcher.js';
import { assembleBatch, splitOutputs } from '../batching/assemble.js';
import { bufferPool } from '../util/buffer-pool.js';
import type { GatewayMetrics, VersionMetrics } from '../metrics/metrics.js';
import type { WorkerPool } from '../workers/pool.js';
import { InlineRunner } from '../workers/inline-runner.js';
import { InlineGate, type InlineLoad } from '../batching/inline.js';
import type { SessionSpec, WireTensor } from '../util/worker-messages.js';
import type { ModelConfig, TensorConfig } from './config.js';
import { resolveSignature } from './signature.js';
import { compileProfile, readProfile, type CompiledProfile } from '../drift/compile.js';
import { derivedWidth } from '../drift/derive.js';
import type { CallTrace } from '../tracing/tracing.js';
import { DATATYPE_INFO, elementCount, type Tensor } from './tensors.js';
import { checkSlicesInput } from './slices-config.js';

export type VersionState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING' | 'UNLOADED';

/**
 * A version whose batches kill their worker (a session that crashes, a hook that exits) would
 * otherwise take a worker down with every call, piscina respawning it each time. After a crash the
 * version's next batch waits for a backoff (base, doubling per crash in the window, capped); after
 * `limit` crashes within `windowMs` it is UNAVAILABLE, with the reason, until it is loaded again.
 */
export const CRASH_LOOP = { limit: 3, windowMs: 60_000, backoffMs: 250, maxBackoffMs: 10_000 } as const;

/** A request ready for the batcher: inputs in the model's input order, validated. */
export interface PreparedRequest {
  inputs: Tensor[];
  /** Rows along the batch dimension (1 when the model does not batch). */
  rows: number;
  /** The call's trace when tracing is on: the batch stamps its queue time and links to it. */
  trace?: CallTrace | undefined;
}

/** Size used for variable (-1) dims in warm-up inputs: a multiple of 32 suits the convolutional models we serve. */
const WARMUP_DIM = 32;

let generations = 0;

interface InlineState {
  gate: InlineGate;
  runner: InlineRunner | undefined;
  opening: Promise<void> | undefined;
}

export class LoadedVersion {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly dir: string;
  readonly spec: SessionSpec;
  readonly metrics: VersionMetrics;
  readonly batcher: Batcher<PreparedRequest, Tensor[]>;
  inputs: TensorConfig[] = [];
  outputs: TensorConfig[] = [];
  state: VersionState = 'LOADING';
  /** The execution provider the sessions run on once loaded: the config's first, or cpu after a fallback. */
  executionProvider: string | undefined;
  /** The GPU its sessions are placed on when the config asks for CUDA (workers/gpu-devices.ts). */
  readonly device: number | undefined;
  /** Why the version stopped serving (state UNAVAILABLE). */
  unavailableReason: string | undefined;
  /** Called once when the version turns UNAVAILABLE (the repository takes it out of routing). */
  onUnavailable: ((version: LoadedVersion) => void) | undefined;
  readonly #pool: WorkerPool;
  /** performance.now() of the worker crashes within CRASH_LOOP.windowMs. */
  #crashes: number[] = [];
  #backoffUntil = 0;
  /** Deadlines are on the real clock (not a test's fake one), so a worker can compare them with its own. */
  readonly #realClock: boolean;
  #variableShape = true;
  /** The gateway's load, for the inline decision (absent: this version never runs inline). */
  readonly #load: InlineLoad | undefined;
  /** The inline gate, and the main thread's session once opened (undefined: never inline). */
  #inline: InlineState | undefined;

  constructor(
    config: ModelConfig, version: string, dir: string, pool: WorkerPool, metrics: GatewayMetrics, clock?: BatcherClock, device?: number,
    load?: InlineLoad,
  ) {
    this.name = config.name;
    this.device = config.execution_providers.includes('cuda') ? device ?? (typeof config.device_id === 'number' ? config.device_id : 0) : undefined;
    this.version = version;
    this.config = config;
    this.dir = dir;
    this.#pool = pool;
    this.spec = {
      key: `${config.name}/${version}#${++generations}`,
      model: config.name,
      version,
      versionDir: dir,
      modelPath: join(dir, 'model.onnx'),
      intraOpThreads: config.intra_op_threads,
      executionProviders: config.execution_providers,
      deviceId: this.device ?? 0,
      configJson: JSON.stringify(config),
    };
    this.metrics = metrics.forVersion(config.name, version);
    this.#realClock = clock === undefined || clock === systemClock;
    this.#load = load;
    this.batcher = new Batcher(batcherOptionsFromConfig(config), (batch, staged, inline) => this.#execute(batch.map((b) => b.payload), batch, staged, inline), clock);
  }

  get batched(): boolean {
    return this.config.max_batch_size > 0;
  }

  /** True when some input has a variable non-batch dimension, so calls of different shapes can arrive. */
  get variableShape(): boolean {
    return this.#variableShape;
  }

  /** Open the sessions, resolve the signature, run the warm-up; READY afterwards. */
  async load(): Promise<void> {
    const meta = await this.#pool.load(this.spec);
    this.executionProvider = meta.executionProviders[0];
    const signature = resolveSignature(this.config, meta);
    this.inputs = signature.inputs;
    this.outputs = signature.outputs;
    this.#variableShape = this.inputs.some((i) => i.dims.includes(-1));
    if (this.config.slices) checkSlicesInput(this.name, this.version, this.config.slices, this.inputs, this.batched);
    if (this.config.drift) this.#checkProfile(compileProfile(readProfile(join(this.dir, this.config.drift.profile))));
    await this.#warmup();
    this.#gateInline();
    this.state = 'READY';
  }

  /** The inline gate's view of this version (undefined when it never runs inline). */
  get inline(): InlineGate | undefined {
    return this.#inline?.gate;
  }

  /** True once the main thread holds a session of this version for inline runs. */
  get inlineReady(): boolean {
    return this.#inline?.runner !== undefined;
  }

  /**
   * A CPU version whose calls may run inline (batching/inline.ts) gets a gate at load. Not when the
   * workers preload observers this thread lacks, nor under a test's fake clock (deadlines and costs
   * would not be real time). A CUDA config, even one fallen back to the CPU, keeps its calls on the
   * workers' sessions.
   */
  #gateInline(): void {
    const maxUs = this.config.dynamic_batching.inline_max_us;
    if (this.#load === undefined || maxUs === 0 || this.config.execution_providers.includes('cuda') || this.#pool.preloaded || !this.#realClock) return;
    const inline: InlineState = { gate: new InlineGate(this.#load, maxUs), runner: undefined, opening: undefined };
    this.#inline = inline;
    this.batcher.inline = (rows, calls, queued) => inline.runner !== undefined && inline.gate.admit(rows, calls, queued);
  }

  /**
   * The main thread's session is opened only once a worker run has measured the version cheap
   * enough to run inline: a model that never qualifies costs the main thread no memory. Opened and
   * warmed in the background; a failure keeps the version on its workers, with the reason.
   */
  #maybeOpenInline(inline: InlineState): void {
    const { computeUs } = inline.gate.costs;
    if (inline.runner !== undefined || inline.opening !== undefined || inline.gate.off !== undefined) return;
    if (!(computeUs <= this.config.dynamic_batching.inline_max_us)) return;
    inline.opening = (async () => {
      let runner: InlineRunner | undefined;
      try {
        runner = await InlineRunner.open(this.spec);
        if (!this.inputs.some((i) => i.datatype === 'BYTES')) await runner.run(this.#zeros(1), true);
      } catch (err) {
        inline.gate.off = `its main-thread session failed: ${(err as Error).message}`;
        await runner?.close().catch(() => undefined);
        return;
      }
      if (this.state === 'UNLOADING' || this.state === 'UNLOADED') await runner.close();
      else inline.runner = runner;
    })();
  }

  /** The error for a call this version cannot take: UNAVAILABLE with its reason, or not ready. */
  notReady(): SluiceError {
    if (this.state === 'UNAVAILABLE') {
      return new SluiceError('SLUICE_E_MODEL_UNAVAILABLE', `model ${this.name} version ${this.version} is unavailable: ${this.unavailableReason}`, {
        details: { reason: this.unavailableReason },
      });
    }
    return new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${this.name} version ${this.version} is not ready`, { retryAfter: 1 });
  }

  enqueue(request: PreparedRequest, options: EnqueueOptions): Promise<Tensor[]> {
    return this.batcher.enqueue(request, options);
  }

  /** Stop taking calls, let the queued and running ones finish, then drop the worker sessions. */
  async unload(): Promise<void> {
    if (this.state === 'UNLOADED') return;
    this.state = 'UNLOADING';
    await this.batcher.close();
    this.#pool.release(this.spec.key);
    if (this.#inline !== undefined) {
      await this.#inline.opening;
      await this.#inline.runner?.close();
      this.#inline.runner = undefined;
    }
    this.state = 'UNLOADED';
  }

  async #execute(
    requests: PreparedRequest[], stamps: readonly { enqueuedAt: number; dispatchedAt: number; deadline: number; background: boolean }[], staged: boolean,
    inline: boolean,
  ): Promise<Tensor[][]> {
    await this.#waitOutBackoff();
    const m = this.metrics;
    // Background batches (explanations' coalition rows, never mixed with calls: their shape key
    // differs) are synthetic inputs: the drift observers skip them as they skip warm-up runs, and
    // their sizes and times go to the explain metrics, not the calls' (nor the inline gate's costs).
    const synthetic = stamps[0]!.background;
    let rows = 0;
    let lastDeadline = -Infinity;
    let traced: CallTrace | undefined;
    for (let i = 0; i < requests.length; i++) {
      rows += requests[i]!.rows;
      if (!synthetic) m.queueDuration.observe((stamps[i]!.dispatchedAt - stamps[i]!.enqueuedAt) / 1e6);
      if (stamps[i]!.deadline > lastDeadline) lastDeadline = stamps[i]!.deadline;
      if (requests[i]!.trace?.sampled === true) traced = requests[i]!.trace;
    }
    (synthetic ? m.explainBatchSize : m.batchSize).observe(rows);
    const assembleStart = traced === undefined ? 0 : performance.now();
    const inputs = assembleBatch(requests.map((r) => r.inputs), this.batched);
    const assembleEnd = traced === undefined ? 0 : performance.now();
    // Every request has a deadline: a batch still waiting in the worker after the last one is skipped.
    const notAfter = this.#realClock && Number.isFinite(lastDeadline) ? performance.timeOrigin + lastDeadline / 1000 : undefined;
    try {
      const sent = performance.now();
      const result = inline ? await this.#inline!.runner!.run(inputs) : await this.#pool.run(this.spec, inputs, [], { notAfter, staged, warmup: synthetic });
      (synthetic ? m.explainComputeDuration : m.computeDuration).observe(result.computeSeconds);
      if (inline) {
        this.#inline!.gate.ranInline(result.computeSeconds * 1e6, rows);
        m.inlineRun();
      } else if (!synthetic && this.#inline !== undefined) {
        // A batch's trip to a worker and back: what running it inline would save (h), and its compute (c).
        this.#inline.gate.ranInWorker((performance.now() - sent) * 1000, result.computeSeconds * 1e6, rows, staged);
        this.#maybeOpenInline(this.#inline);
      }
      for (const buffer of result.recycled) bufferPool.give(buffer, true);
      if (traced !== undefined) this.#traceBatch(traced, requests, stamps, rows, assembleStart, assembleEnd, undefined, result.computeSeconds);
      return splitOutputs(result.outputs, requests.map((r) => r.rows), this.batched);
    } catch (err) {
      if (traced !== undefined) this.#traceBatch(traced, requests, stamps, rows, assembleStart, assembleEnd, toSluiceError(err).code, undefined);
      if (isSluiceError(err) && err.code === 'SLUICE_E_WORKER_CRASHED') {
        // A model that takes its worker down would take the gateway down on the main thread.
        if (this.#inline !== undefined) this.#inline.gate.off = 'its worker crashed';
        m.workerCrash();
        this.#crashed(err);
      }
      throw err;
    }
  }

  /** Stamp the batch on its sampled calls and record its span (only when one of its calls is sampled). */
  #traceBatch(
    traced: CallTrace, requests: readonly PreparedRequest[], stamps: readonly { enqueuedAt: number; dispatchedAt: number }[], rows: number,
    assembleStart: number, assembleEnd: number, error: string | undefined, computeSeconds: number | undefined,
  ): void {
    const calls: (CallTrace | undefined)[] = [];
    for (let i = 0; i < requests.length; i++) {
      const t = requests[i]!.trace;
      calls.push(t);
      if (t === undefined || !t.sampled) continue;
      // A test's fake batcher clock does not tell real time: the queue span is left out then.
      if (this.#realClock) {
        t.enqueuedAt = stamps[i]!.enqueuedAt / 1000;
        t.dispatchedAt = stamps[i]!.dispatchedAt / 1000;
      }
      t.batchRows = rows;
      t.batchCalls = requests.length;
    }
    traced.tracing.batch(calls, { model: this.name, version: this.version, rows, assembleStart, assembleEnd, end: performance.now(), error, computeSeconds });
  }

  /**
   * A batch formed during a backoff waits it out before it goes to a worker (the batcher holds the
   * batches behind it meanwhile); after the version became unavailable, batches fail without one.
   */
  async #waitOutBackoff(): Promise<void> {
    const wait = this.#backoffUntil - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.state === 'UNAVAILABLE') throw this.notReady();
  }

  #crashed(err: SluiceError): void {
    const now = performance.now();
    this.#crashes = this.#crashes.filter((at) => now - at < CRASH_LOOP.windowMs);
    this.#crashes.push(now);
    const n = this.#crashes.length;
    if (n >= CRASH_LOOP.limit && this.state === 'READY') {
      const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
      this.unavailableReason = `its worker crashed ${n} times within ${CRASH_LOOP.windowMs / 1000} s (last${cause}); load it again to retry`;
      this.state = 'UNAVAILABLE';
      this.onUnavailable?.(this);
      return;
    }
    this.#backoffUntil = now + Math.min(CRASH_LOOP.backoffMs * 2 ** (n - 1), CRASH_LOOP.maxBackoffMs);
  }

  /**
   * The drift profile must describe this model: every tensor it names is one of the model's inputs
   * or outputs, with as many features as the tensor derives to. A profile built for another model
   * would otherwise load and then skip every batch, with drift silently off.
   */
  #checkProfile(compiled: CompiledProfile): void {
    const where = `drift profile ${this.config.drift!.profile} of model ${this.name} version ${this.version}`;
    for (const t of compiled.tensors) {
      const tensors = t.role === 'input' ? this.inputs : this.outputs;
      const tensor = tensors.find((x) => x.name === t.name);
      if (tensor === undefined) {
        throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where} names ${t.role} ${t.name}; the model's ${t.role}s are ${tensors.map((x) => x.name).join(', ')}`);
      }
      const dims = this.batched ? [1, ...tensor.dims] : tensor.dims;
      const fixed = t.derive === 'columns' ? dims.slice(1).every((d) => d > 0) : t.derive === 'image_channel_stats' ? (dims[t.layout === 'NCHW' ? 1 : dims.length - 1] ?? -1) > 0 : true;
      if (!fixed) continue;
      const width = derivedWidth(t.derive, dims, t.layout);
      if (width !== t.features) {
        throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where}: ${t.role} ${t.name} has ${t.features} features in the profile, the model's tensor (dims ${JSON.stringify(tensor.dims)}) gives ${width}`);
      }
    }
  }

  async #warmup(): Promise<void> {
    if (this.config.warmup.length === 0) return;
    if (this.inputs.some((i) => i.datatype === 'BYTES')) return; // no meaningful synthetic bytes (images)
    const runs: Promise<unknown>[] = [];
    for (const w of this.config.warmup) {
      for (let c = 0; c < w.count; c++) runs.push(this.#pool.run(this.spec, this.#zeros(w.batch_size), [], { warmup: true }));
    }
    try {
      await Promise.all(runs);
    } catch (err) {
      throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `model ${this.name} version ${this.version} failed its warm-up: ${(err as Error).message}`, { cause: err });
    }
  }

  #zeros(batchSize: number): WireTensor[] {
    return this.inputs.map((input) => {
      const dims = [...(this.batched ? [batchSize] : []), ...input.dims.map((d) => (d === -1 ? WARMUP_DIM : d))];
      const info = DATATYPE_INFO[input.datatype];
      return { name: input.name, type: info.ort, dims, data: new info.array!(elementCount(dims)) };
    });
  }
}
