// The piscina worker entry: runs ORT sessions off the gateway's event loop (session.run blocks the
// calling thread). A task either opens a session (returning its tensor metadata) or runs one batch;
// input buffers arrive transferred and output buffers leave transferred.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ProviderUnavailableError, openSession, releaseSession, type OpenSession } from './sessions.js';
import {
  SESSION_CHANNEL, type LoadResult, type ReleaseMessage, type RunResult, type RunTask, type TensorMetadata,
  type WireTensor, type WorkerData, type WorkerTask,
} from '../util/worker-messages.js';
import type { OrtType } from '../models/tensors.js';

for (const url of (workerData as WorkerData | undefined)?.preload ?? []) await import(url);

const channel = new BroadcastChannel(SESSION_CHANNEL);
channel.onmessage = (event: unknown) => {
  const msg = (event as { data: ReleaseMessage }).data;
  if (typeof msg?.release === 'string') void releaseSession(msg.release);
};
channel.unref();

/** What a task answers with: a result, or the error the model raised (worker crashes reject the task instead). */
export type TaskOutcome<T> = { ok: true; value: T } | { ok: false; error: string; phase: 'load' | 'provider' | 'run' | 'expired' };

export default async function task(t: WorkerTask): Promise<unknown> {
  let open: OpenSession;
  try {
    open = await openSession(t.spec);
  } catch (err) {
    return { ok: false, error: message(err), phase: err instanceof ProviderUnavailableError ? 'provider' : 'load' } satisfies TaskOutcome<never>;
  }
  if (t.op === 'load') return { ok: true, value: metadata(open) } satisfies TaskOutcome<LoadResult>;
  try {
    return await run(open, t);
  } catch (err) {
    return { ok: false, error: message(err), phase: 'run' } satisfies TaskOutcome<never>;
  }
}

async function run(open: OpenSession, t: RunTask): Promise<unknown> {
  if (t.notAfter !== undefined && performance.timeOrigin + performance.now() > t.notAfter) {
    return { ok: false, error: 'every request of the batch passed its deadline while it waited', phase: 'expired' } satisfies TaskOutcome<never>;
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of t.inputs) {
    feeds[input.name] = new ort.Tensor(input.type, input.data as ort.Tensor.DataType, input.dims);
  }
  const started = performance.now();
  let results: ort.InferenceSession.ReturnType;
  try {
    results = t.outputs.length > 0 ? await open.session.run(feeds, t.outputs) : await open.session.run(feeds);
  } catch (err) {
    return { ok: false, error: message(err), phase: 'run' } satisfies TaskOutcome<never>;
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
  // The inputs are done with (ORT and the observers have read them): move them back to be reused.
  const recycled: ArrayBuffer[] = [];
  for (const input of t.inputs) {
    if (Array.isArray(input.data)) continue;
    const buffer = input.data.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength > 0 && !transfer.includes(buffer)) {
      recycled.push(buffer);
      transfer.push(buffer);
    }
  }
  const value: TaskOutcome<RunResult> = { ok: true, value: { outputs, computeSeconds, recycled } };
  return move({ [transferableSymbol]: transfer, [valueSymbol]: value } as never);
}

function metadata(open: OpenSession): LoadResult {
  const describe = (m: ort.InferenceSession.ValueMetadata): TensorMetadata => {
    if (!m.isTensor) return { name: m.name, type: 'non-tensor', shape: [] };
    return { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  };
  return {
    inputs: open.session.inputMetadata.map(describe),
    outputs: open.session.outputMetadata.map(describe),
    executionProviders: open.executionProviders,
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
