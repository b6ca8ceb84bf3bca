import t from 'tap';
import { LoadedVersion } from '../../../gateway/models/loaded-version.js';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';
import type { WorkerPool } from '../../../gateway/workers/pool.js';
import type { LoadResult, RunResult, SessionSpec, WireTensor } from '../../../gateway/util/worker-messages.js';

/** A worker pool stand-in whose runs finish when the test says so (the real pool is tested end to end elsewhere). */
class ManualPool {
  runs: { inputs: WireTensor[]; finish: () => void }[] = [];
  released: string[] = [];
  async load(): Promise<LoadResult> {
    return {
      inputs: [{ name: 'x', type: 'float32', shape: [-1, 3, -1] }],
      outputs: [{ name: 'y', type: 'float32', shape: [-1, 2] }],
      executionProviders: ['cpu'],
    };
  }
  run(_spec: SessionSpec, inputs: WireTensor[]): Promise<RunResult> {
    return new Promise((resolve) => {
      const rows = inputs[0]!.dims[0]!;
      this.runs.push({ inputs, finish: () => resolve({ outputs: [{ name: 'y', type: 'float32', dims: [rows, 2], data: new Float32Array(rows * 2) }], computeSeconds: 0.001, recycled: [] }) });
    });
  }
  release(key: string): void {
    this.released.push(key);
  }
}

t.test('a model with warmup is not ready until its warm-up runs have finished', async (t) => {
  const pool = new ManualPool();
  const config = parseModelConfig('m', { max_batch_size: 8, warmup: [{ batch_size: 4, count: 2 }, { batch_size: 1, count: 1 }] });
  const version = new LoadedVersion(config, '1', '/nowhere', pool as unknown as WorkerPool, new GatewayMetrics());
  let loaded = false;
  const loading = version.load().then(() => (loaded = true));
  await new Promise((r) => setImmediate(r));
  t.equal(version.state, 'LOADING');
  t.equal(pool.runs.length, 3, 'every warm-up run starts');
  t.same(pool.runs.map((r) => r.inputs[0]!.dims), [[4, 3, 32], [4, 3, 32], [1, 3, 32]], 'zeros shaped from the signature; variable dims filled');
  pool.runs[0]!.finish();
  pool.runs[1]!.finish();
  await new Promise((r) => setImmediate(r));
  t.equal(version.state, 'LOADING', 'still waiting for the last warm-up run');
  t.notOk(loaded);
  pool.runs[2]!.finish();
  await loading;
  t.equal(version.state, 'READY');
  t.same(version.inputs, [{ name: 'x', datatype: 'FP32', dims: [3, -1] }], 'inputs read from the model');
  await version.unload();
  t.equal(version.state, 'UNLOADED');
  t.same(pool.released, [version.spec.key], 'the worker sessions are released');
});
