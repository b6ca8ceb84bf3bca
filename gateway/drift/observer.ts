// The drift observer that lives in each inference worker, one per model version with a `drift`
// config: after session.run it feeds a sampled share of the batches (whole batches, drawn with
// probability sample_fraction, so sampling costs one random number per batch) into its own
// DriftWindow and publishes the window's state to the main thread through shared memory
// (shared-state.ts). Nothing here may throw into the worker's run path: a batch it cannot use is
// counted and skipped.
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { join } from 'node:path';
import type { DriftConfig, ModelConfig } from '../models/config.js';
import { compileProfile, readProfile, type CompiledProfile } from './compile.js';
import { deriveRows } from './derive.js';
import { DRIFT_CHANNEL, type AttachMessage, type DetachMessage } from './channel.js';
import { sharedStateBuffer, SharedStateWriter } from './shared-state.js';
import type { NumericBuffer } from './ts-window.js';
import { DriftWindow } from './window.js';
import { blockOffsets } from './layout.js';

/** The parts of the worker's batch the observer reads (structurally the worker's ObservedBatch). */
export interface DriftBatch {
  rows: number;
  /** The version's warm-up runs on synthetic inputs: never counted. */
  warmup?: boolean;
  inputs: readonly { name: string; dims: number[]; data: ArrayBufferView | string[] }[];
  outputs: readonly { name: string; dims: number[]; data: ArrayBufferView | string[] }[];
}

export interface DriftSessionSpec {
  model: string;
  version: string;
  versionDir: string;
}

let channel: BroadcastChannel | undefined;
let observers = 0;

function post(msg: AttachMessage | DetachMessage): void {
  if (!channel) {
    channel = new BroadcastChannel(DRIFT_CHANNEL);
    channel.unref();
  }
  channel.postMessage(msg);
}

function numeric(data: ArrayBufferView): NumericBuffer {
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array || data instanceof BigInt64Array) return data;
  if (data instanceof BigUint64Array) return Float64Array.from(data, Number);
  // Other integer and bool tensors: widen once (rare for drift-monitored tensors).
  return Float64Array.from(data as unknown as ArrayLike<number>);
}

export class DriftObserver {
  readonly id: string;
  readonly compiled: CompiledProfile;
  readonly window: DriftWindow;
  readonly #config: DriftConfig;
  readonly #random: () => number;
  readonly #shared: SharedStateWriter;
  #skipped = 0;

  constructor(spec: DriftSessionSpec, config: DriftConfig, compiled: CompiledProfile, random: () => number = Math.random) {
    this.id = `${threadId}:${++observers}`;
    this.#config = config;
    this.compiled = compiled;
    this.#random = random;
    this.#shared = new SharedStateWriter(sharedStateBuffer(blockOffsets(compiled.layout).at(-1)!));
    this.window = new DriftWindow(compiled.layout, 'auto', this.#shared.state);
    post({ type: 'drift-attach', id: this.id, model: spec.model, version: spec.version, versionDir: spec.versionDir, buffer: this.#shared.buffer });
  }

  observe(batch: DriftBatch): void {
    if (batch.warmup) return;
    const fraction = this.#config.sample_fraction;
    if (fraction < 1 && !(this.#random() < fraction)) return;
    this.#shared.begin(this.window);
    for (const t of this.compiled.tensors) {
      const list = t.role === 'input' ? batch.inputs : batch.outputs;
      const tensor = list.find((x) => x.name === t.name);
      if (!tensor || Array.isArray(tensor.data)) continue;
      try {
        const rows = deriveRows(t.name, t.derive, numeric(tensor.data as ArrayBufferView), tensor.dims, t.layout);
        if (rows.cols !== t.features) throw new RangeError(`${t.name} has ${rows.cols} features, the profile ${t.features}`);
        this.window.update(rows, t.featureBase);
      } catch {
        this.#skipped++;
      }
    }
    this.#shared.end(this.#skipped);
  }

  close(): void {
    if (this.window.disposed) return;
    post({ type: 'drift-detach', id: this.id });
    this.window.dispose();
  }
}

/** The worker's observer factory: an observer for versions whose config has `drift`, else none. */
export function driftObserverFactory(spec: DriftSessionSpec, config: ModelConfig): DriftObserver | undefined {
  if (!config.drift) return undefined;
  const compiled = compileProfile(readProfile(join(spec.versionDir, config.drift.profile)));
  return new DriftObserver(spec, config.drift, compiled);
}
