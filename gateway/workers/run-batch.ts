// One batch through an open session: what a worker does with a run task, and what the main thread
// does with a lone call it runs inline (inline-runner.ts). Kept in one place so both give the same
// outputs, observe the same batches and fail with the same codes.
import ort from 'onnxruntime-node';
import { SluiceError } from '../../lib/errors.js';
import type { OpenSession } from './sessions.js';
import type { RunResult, RunTask, SessionSpec, WireTensor } from '../util/worker-messages.js';
import type { OrtType } from '../models/tensors.js';

/** What a task answers with: a result, or the error the model raised (worker crashes reject the task instead). */
export type TaskOutcome<T> = { ok: true; value: T } | { ok: false; error: string; phase: 'load' | 'provider' | 'run' | 'expired' };

/** A batch's outcome and the buffers that may be moved (not copied) to the thread that asked. */
export interface BatchRun {
  outcome: TaskOutcome<RunResult>;
  transfer: ArrayBuffer[];
}

/**
 * `busyLoop`: the caller's event loop also serves requests (an inline run on the main thread), so
 * compute is timed from a marker immediate; a worker's loop is idle and times from the call.
 */
export async function runBatch(open: OpenSession, t: RunTask, busyLoop = false): Promise<BatchRun> {
  if (t.notAfter !== undefined && performance.timeOrigin + performance.now() > t.notAfter) {
    return { outcome: { ok: false, error: 'every request of the batch passed its deadline while it waited', phase: 'expired' }, transfer: [] };
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of t.inputs) {
    feeds[input.name] = new ort.Tensor(input.type, input.data as ort.Tensor.DataType, input.dims);
  }
  // onnxruntime-node 1.29 runs the session in a setImmediate callback: on a busy loop (a batch run
  // inline on the main thread) that comes only after the rest of the turn's I/O. A marker queued
  // first runs just before it, so compute is timed from there, not from the turn's other work (a
  // run that settles before the marker keeps the first stamp).
  let started = performance.now();
  const marker = busyLoop
    ? setImmediate(() => {
      started = performance.now();
    })
    : undefined;
  let results: ort.InferenceSession.ReturnType;
  try {
    results = t.outputs.length > 0 ? await open.session.run(feeds, t.outputs) : await open.session.run(feeds);
  } catch (err) {
    return { outcome: { ok: false, error: errorMessage(err), phase: 'run' }, transfer: [] };
  } finally {
    if (marker !== undefined) clearImmediate(marker);
  }
  const computeSeconds = (performance.now() - started) / 1000;
  const outputs: WireTensor[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const [name, value] of Object.entries(results)) {
    const tensor = value as ort.Tensor;
    let data = tensor.data as ArrayBufferView | string[];
    if (!Array.isArray(data)) {
      // Only an ArrayBuffer the view covers exactly may be moved; anything else is copied once.
      if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength || !(data.buffer instanceof ArrayBuffer)) {
        data = (data as Uint8Array).slice();
      }
      transfer.push(data.buffer as ArrayBuffer);
    }
    outputs.push({ name, type: tensor.type as OrtType, dims: [...tensor.dims], data });
  }
  if (open.observers.length > 0) {
    const batch = { model: open.spec.model, version: open.spec.version, rows: t.inputs[0]?.dims[0] ?? 1, inputs: t.inputs, outputs, warmup: t.warmup === true };
    for (const observer of open.observers) observer.observe(batch);
  }
  // The inputs are done with (ORT and the observers have read them): handed back to be reused.
  const recycled: ArrayBuffer[] = [];
  for (const input of t.inputs) {
    if (Array.isArray(input.data)) continue;
    const buffer = input.data.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength > 0 && !transfer.includes(buffer)) {
      recycled.push(buffer);
      transfer.push(buffer);
    }
  }
  return { outcome: { ok: true, value: { outputs, computeSeconds, recycled } }, transfer };
}

/** The coded error of a failed outcome, naming the model version (the pool and the inline runner alike). */
export function outcomeError(spec: SessionSpec, outcome: Extract<TaskOutcome<unknown>, { ok: false }>): SluiceError {
  if (outcome.phase === 'expired') return new SluiceError('SLUICE_E_BATCH_TIMEOUT', outcome.error);
  if (outcome.phase === 'provider') {
    return new SluiceError('SLUICE_E_MODEL_PROVIDER', `model ${spec.model} version ${spec.version} ${outcome.error}`, {
      details: { model: spec.model, version: spec.version, provider: spec.executionProviders[0] },
    });
  }
  if (outcome.phase === 'load') {
    return new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `model ${spec.model} version ${spec.version} failed to load: ${outcome.error}`);
  }
  return new SluiceError('SLUICE_E_MODEL_RUN_FAILED', `model ${spec.model} version ${spec.version} failed to run: ${outcome.error}`);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
