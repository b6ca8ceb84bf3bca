// The piscina worker entry: runs ORT sessions off the gateway's event loop (session.run blocks the
// calling thread). A task either opens a session (returning its tensor metadata) or runs one batch;
// input buffers arrive transferred and output buffers leave transferred.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import type ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ProviderUnavailableError, openSession, releaseSession, type OpenSession } from './sessions.js';
import { errorMessage as message, runBatch, type TaskOutcome } from './run-batch.js';
import { SESSION_CHANNEL, type LoadResult, type ReleaseMessage, type TensorMetadata, type WorkerData, type WorkerTask } from '../util/worker-messages.js';

for (const url of (workerData as WorkerData | undefined)?.preload ?? []) await import(url);

const channel = new BroadcastChannel(SESSION_CHANNEL);
channel.onmessage = (event: unknown) => {
  const msg = (event as { data: ReleaseMessage }).data;
  if (typeof msg?.release === 'string') void releaseSession(msg.release);
};
channel.unref();

export type { TaskOutcome } from './run-batch.js';

export default async function task(t: WorkerTask): Promise<unknown> {
  let open: OpenSession;
  try {
    open = await openSession(t.spec);
  } catch (err) {
    return { ok: false, error: message(err), phase: err instanceof ProviderUnavailableError ? 'provider' : 'load' } satisfies TaskOutcome<never>;
  }
  if (t.op === 'load') return { ok: true, value: metadata(open) } satisfies TaskOutcome<LoadResult>;
  try {
    const { outcome, transfer } = await runBatch(open, t);
    return outcome.ok ? move({ [transferableSymbol]: transfer, [valueSymbol]: outcome } as never) : outcome;
  } catch (err) {
    return { ok: false, error: message(err), phase: 'run' } satisfies TaskOutcome<never>;
  }
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

