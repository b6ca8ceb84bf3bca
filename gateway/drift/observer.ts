// The drift observer that lives in each inference worker, one per model version with a `drift`
// config: after session.run it feeds a sampled share of the batches (whole batches, drawn with
// probability sample_fraction, so sampling costs one random number per batch) into its own
// DriftWindow, and answers the main thread's flush requests with the window's rotated state.
// Nothing here may throw into the worker's run path: a batch it cannot use is counted and skipped.
import { BroadcastChannel } from 'node:worker_threads';
import { join } from 'node:path';
import type { DriftConfig, ModelConfig } from '../models/config.js';
import { compileProfile, readProfile, type CompiledProfile } from './compile.js';
import { deriveRows } from './derive.js';
import { DRIFT_CHANNEL, type DriftMessage, type SnapshotMessage } from './channel.js';
import type { NumericBuffer } from './ts-window.js';
import { DriftWindow } from './window.js';

/** The parts of the worker's batch the observer reads (structurally the worker's ObservedBatch). */
export interface DriftBatch {
  rows: number;
  inputs: readonly { name: string; dims: number[]; data: ArrayBufferView | string[] }[];
  outputs: readonly { name: string; dims: number[]; data: ArrayBufferView | string[] }[];
}

export interface DriftSessionSpec {
  model: string;
  version: string;
  versionDir: string;
}

const live = new Set<DriftObserver>();
let channel: BroadcastChannel | undefined;

function openChannel(): BroadcastChannel {
  if (channel) return channel;
  const ch = new BroadcastChannel(DRIFT_CHANNEL);
  ch.onmessage = (event: unknown) => {
    const msg = (event as { data: DriftMessage }).data;
    if (msg?.type === 'drift-flush') for (const o of live) o.flush();
  };
  ch.unref();
  channel = ch;
  return ch;
}

function numeric(data: ArrayBufferView): NumericBuffer {
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array || data instanceof BigInt64Array) return data;
  if (data instanceof BigUint64Array) return Float64Array.from(data, Number);
  // Other integer and bool tensors: widen once (rare for drift-monitored tensors).
  return Float64Array.from(data as unknown as ArrayLike<number>);
}

export class DriftObserver {
  readonly compiled: CompiledProfile;
  readonly window: DriftWindow;
  readonly #spec: DriftSessionSpec;
  readonly #config: DriftConfig;
  readonly #random: () => number;
  #errors = 0;
  #fed = false;

  constructor(spec: DriftSessionSpec, config: DriftConfig, compiled: CompiledProfile, random: () => number = Math.random) {
    this.#spec = spec;
    this.#config = config;
    this.compiled = compiled;
    this.#random = random;
    this.window = new DriftWindow(compiled.layout);
    live.add(this);
    openChannel();
  }

  observe(batch: DriftBatch): void {
    const fraction = this.#config.sample_fraction;
    if (fraction < 1 && !(this.#random() < fraction)) return;
    for (const t of this.compiled.tensors) {
      const list = t.role === 'input' ? batch.inputs : batch.outputs;
      const tensor = list.find((x) => x.name === t.name);
      if (!tensor || Array.isArray(tensor.data)) continue;
      try {
        const rows = deriveRows(t.name, t.derive, numeric(tensor.data as ArrayBufferView), tensor.dims, t.layout);
        if (rows.cols !== t.features) throw new RangeError(`${t.name} has ${rows.cols} features, the profile ${t.features}`);
        this.window.update(rows, t.featureBase);
        this.#fed = true;
      } catch {
        this.#errors++;
      }
    }
  }

  /** Send the window's state to the main thread and start it over (nothing when it saw nothing). */
  flush(): void {
    if (this.window.disposed || (!this.#fed && this.#errors === 0)) return;
    const msg: SnapshotMessage = {
      type: 'drift-snapshot', model: this.#spec.model, version: this.#spec.version, versionDir: this.#spec.versionDir,
      config: this.#config, snapshot: this.window.rotate(), errors: this.#errors,
    };
    this.#fed = false;
    this.#errors = 0;
    openChannel().postMessage(msg);
  }

  close(): void {
    this.flush();
    live.delete(this);
    this.window.dispose();
  }
}

/** The worker's observer factory: an observer for versions whose config has `drift`, else none. */
export function driftObserverFactory(spec: DriftSessionSpec, config: ModelConfig): DriftObserver | undefined {
  if (!config.drift) return undefined;
  const compiled = compileProfile(readProfile(join(spec.versionDir, config.drift.profile)));
  return new DriftObserver(spec, config.drift, compiled);
}
