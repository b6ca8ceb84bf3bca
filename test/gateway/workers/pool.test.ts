import t from 'tap';
import { copyModels, postJson, startTestGateway } from '../gateway-harness.js';
import { POISON } from './crash-observer.js';

const call = (url: string, first: number) =>
  postJson(`${url}/v2/models/weather/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [first, 12, 4, 3, 40] }] });

t.test('a worker that dies mid-batch: its calls get a 5xx, none hangs, the worker is replaced', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models, {
    workerThreads: 2,
    workerPreload: [new URL('./crash-observer.js', import.meta.url).href],
  });
  const threadIds = gw.pool.threads.map((w) => w.threadId).sort();
  const calls = [...Array.from({ length: 20 }, (_, i) => call(gw.url, i % 3)), call(gw.url, POISON), ...Array.from({ length: 20 }, () => call(gw.url, 1))];
  const answers = await Promise.all(calls);
  const poisoned = answers[20]!;
  t.equal(poisoned.status, 500, 'the call in the dead worker\'s batch fails');
  t.equal(poisoned.body.code, 'SLUICE_E_WORKER_CRASHED');
  t.match(poisoned.headers.get('x-request-id'), /^[0-9a-f]{8}-[0-9a-z]+$/, 'the 500 carries the request id it was logged under');
  t.ok(answers.every((a) => a.status === 200 || a.status === 500), 'every call was answered');
  t.ok(answers.filter((a) => a.status === 200).length > 0, 'calls in other batches succeed');
  const later = await Promise.all(Array.from({ length: 8 }, () => call(gw.url, 2)));
  t.same(later.map((a) => a.status), new Array(8).fill(200), 'later calls succeed on the replacement worker');
  t.notSame(gw.pool.threads.map((w) => w.threadId).sort(), threadIds, 'a new worker thread took the dead one\'s place');
  t.equal(gw.pool.threads.length, 2);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_worker_crashes_total\{model="weather",version="1"\} 1\n/);
  const failed = answers.filter((a) => a.status === 500).length;
  t.match(metrics, new RegExp(`sluice_inference_requests_total\\{model="weather",version="1",outcome="server_error"\\} ${failed}\\n`));
});

t.test('a batch that reaches its worker after its notAfter time is skipped, not run', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']), { workerThreads: 1 });
  const spec = gw.inference.resolve('weather').spec;
  const batch = () => [{ name: 'features', type: 'float32' as const, dims: [1, 5], data: new Float32Array([1, 12, 4, 3, 40]) }];
  await t.rejects(gw.pool.run(spec, batch(), [], { notAfter: performance.timeOrigin + performance.now() - 1000 }), { code: 'SLUICE_E_BATCH_TIMEOUT', message: /passed its deadline/ });
  const ran = await gw.pool.run(spec, batch(), [], { notAfter: Date.now() + 60_000 });
  t.ok(ran.outputs.length > 0 && ran.outputs.every((o) => o.dims[0] === 1), 'a batch still in time runs');
});

t.test("a batch's input buffers come back from the worker to be reused", async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']), { workerThreads: 1 });
  const spec = gw.inference.resolve('weather').spec;
  const rows = 4096;
  const data = new Float32Array(rows * 5).fill(1);
  const result = await gw.pool.run(spec, [{ name: 'features', type: 'float32', dims: [rows, 5], data }], []);
  t.equal(data.buffer.byteLength, 0, 'moved to the worker, not copied');
  t.equal(result.recycled.length, 1);
  t.equal(result.recycled[0]!.byteLength, rows * 5 * 4, 'the same bytes came back');
  t.ok(result.outputs.every((o) => o.dims[0] === rows), 'and the batch ran');
});

t.test('a batch waits in the pool for an idle worker unless it was staged, which goes to a busy worker at once', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']), { workerThreads: 1 });
  const spec = gw.inference.resolve('weather').spec;
  const batch = (first: number) => [{ name: 'features', type: 'float32' as const, dims: [1, 5], data: new Float32Array([first, 12, 4, 3, 40]) }];
  const running = gw.pool.run(spec, batch(1), []);
  const next = gw.pool.run(spec, batch(2), []);
  t.equal(gw.pool.queued, 1, 'a second batch on a one-worker pool waits in the pool, behind no other model');
  const staged = gw.pool.run(spec, batch(3), [], { staged: true });
  t.equal(gw.pool.queued, 1, 'the staged batch did not queue in the pool: it went to the worker');
  const results = await Promise.all([running, next, staged]);
  t.ok(results.every((r) => r.outputs.length > 0 && r.outputs.every((o) => o.dims[0] === 1)), 'all three ran');
  t.equal(gw.pool.queued, 0);
  const after = await Promise.all([gw.pool.run(spec, batch(4), []), gw.pool.run(spec, batch(5), [])]);
  t.equal(after.length, 2, 'the pool still takes batches after the queue drained');
});
