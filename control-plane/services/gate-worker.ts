// Runs the models of one gate evaluation with ONNX Runtime in a worker thread: `session.run` is
// synchronous on its calling thread (DESIGN.md), and the control plane's event loop must keep
// answering GraphQL, gateways and the rollout controller while a holdout set is scored.
// In: GateWorkerTask as workerData. Out: one GateWorkerResult message.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

export interface GateWorkerTask {
  /** Each model is scored on the inputs it names; one failing does not stop the others. */
  models: { key: string; bytes: Uint8Array; inputs: string[] }[];
  inputs: { key: string; data: Float32Array }[];
  rows: number;
  cols: number;
  inputName: string;
  outputName: string;
  task: 'classification' | 'regression';
  /** Rows per session.run. */
  batch: number;
}

/** One model's predictions per input key, or why it could not be scored. */
export type ModelScores = { ok: true; predictions: Record<string, Float64Array> } | { ok: false; stage: 'load' | 'run' | 'output'; message: string };

export type GateWorkerResult = Record<string, ModelScores>;

class Stage extends Error {
  constructor(
    readonly stage: 'load' | 'run' | 'output',
    message: string,
  ) {
    super(message);
  }
}

/** One prediction per row: a class index (INT64 [N], or the argmax of [N, K]) or a number ([N] or [N, 1]). */
function predictions(out: ort.Tensor, rows: number, task: GateWorkerTask['task'], name: string): Float64Array {
  const dims = out.dims;
  const data = out.data as ArrayLike<number | bigint>;
  const result = new Float64Array(rows);
  if (dims[0] !== rows) throw new Stage('output', `output ${name} has ${dims[0]} rows for ${rows} inputs`);
  const width = dims.length === 1 ? 1 : dims.slice(1).reduce((a, b) => a * b, 1);
  if (width === 1) {
    for (let i = 0; i < rows; i++) result[i] = Number(data[i]);
    if (task === 'classification' && !result.every(Number.isInteger)) throw new Stage('output', `output ${name} holds non-integer values; a classifier's output must be class indices or [N, classes] scores`);
    return result;
  }
  if (task === 'regression') throw new Stage('output', `output ${name} has shape [${dims.join(',')}]; a regressor's output must be [N] or [N, 1]`);
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let k = 1; k < width; k++) if (Number(data[i * width + k]) > Number(data[i * width + best])) best = k;
    result[i] = best;
  }
  return result;
}

async function score(t: GateWorkerTask, m: GateWorkerTask['models'][number]): Promise<ModelScores> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(m.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (err) {
    return { ok: false, stage: 'load', message: (err as Error).message };
  }
  try {
    const out: Record<string, Float64Array> = {};
    for (const input of t.inputs.filter((i) => m.inputs.includes(i.key))) {
      const all = new Float64Array(t.rows);
      for (let start = 0; start < t.rows; start += t.batch) {
        const n = Math.min(t.batch, t.rows - start);
        const feed = new ort.Tensor('float32', input.data.subarray(start * t.cols, (start + n) * t.cols), [n, t.cols]);
        let result: ort.InferenceSession.OnnxValueMapType;
        try {
          result = await session.run({ [t.inputName]: feed }, [t.outputName]);
        } catch (err) {
          throw new Stage('run', (err as Error).message);
        }
        all.set(predictions(result[t.outputName] as ort.Tensor, n, t.task, t.outputName), start);
      }
      out[input.key] = all;
    }
    return { ok: true, predictions: out };
  } catch (err) {
    return { ok: false, stage: err instanceof Stage ? err.stage : 'run', message: (err as Error).message };
  } finally {
    await session.release();
  }
}

async function evaluate(t: GateWorkerTask): Promise<GateWorkerResult> {
  const out: GateWorkerResult = {};
  for (const m of t.models) out[m.key] = await score(t, m);
  return out;
}

if (parentPort) {
  const port = parentPort;
  void evaluate(workerData as GateWorkerTask).then((r) => port.postMessage(r));
}
