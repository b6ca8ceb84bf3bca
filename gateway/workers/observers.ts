// Batch observers: the place, after session.run and before the output buffers leave the worker,
// where per-model-version hooks (drift sketches) see every batch's inputs and outputs. Factories
// are registered here once per observer kind; each decides from the model config whether it
// observes a given model version, so a version without e.g. `drift` in its config gets no observer
// at all (no no-op calls on the hot path).
import type { ModelConfig } from '../models/config.js';
import type { SessionSpec, WireTensor } from '../util/worker-messages.js';
import { driftObserverFactory } from '../drift/observer.js';

export interface ObservedBatch {
  model: string;
  version: string;
  /** Rows along the batch dimension. */
  rows: number;
  inputs: readonly WireTensor[];
  outputs: readonly WireTensor[];
  /** A warm-up run on synthetic inputs (observers of real traffic skip it). */
  warmup: boolean;
}

export interface BatchObserver {
  /** Must not keep references to the tensors' buffers: they are transferred right after. */
  observe(batch: ObservedBatch): void;
  /** Called when the session is released (model version unloaded). */
  close?(): void;
}

/** Returns an observer for this model version, or undefined when it has nothing to observe. */
export type BatchObserverFactory = (spec: SessionSpec, config: ModelConfig) => BatchObserver | undefined | Promise<BatchObserver | undefined>;

/** Observer kinds, in call order. */
export const batchObserverFactories: BatchObserverFactory[] = [driftObserverFactory];

export async function createBatchObservers(spec: SessionSpec, config: ModelConfig): Promise<BatchObserver[]> {
  const observers: BatchObserver[] = [];
  for (const factory of batchObserverFactories) {
    const observer = await factory(spec, config);
    if (observer) observers.push(observer);
  }
  return observers;
}
