// The hop between an I/O thread and the main thread (docs/io-threads.md), measured the way the
// gateway makes it: a weather-sized call (headers + a ~200-byte body in a transferred buffer) goes
// to the main thread, which answers with a ~150-byte response. Three ways in the same run:
// one postMessage per message, the gateway's Outbox (one postMessage per loop turn and
// direction), and the Outbox with a copied (cloned) body instead of a transferred one. Reports
// round trips/s and the main thread's CPU per call (/proc), with `inFlight` calls outstanding as
// 64 connections would keep them.
//
//   node dist/bench/micro/io-threads/hop.js [--calls 200000] [--in-flight 64]
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { Outbox, type WireMessage } from '../../../gateway/server/io-wire.js';
import { threadCpuUs } from '../../targets/server-process.js';

type Mode = 'per-message' | 'outbox' | 'outbox-clone';
const HEADERS = ['host', '127.0.0.1:8000', 'content-type', 'application/json', 'content-length', '212', 'user-agent', 'bench'];
const ANSWER = '{"model_name":"weather","model_version":"1","outputs":[{"name":"probabilities","datatype":"FP32","shape":[1,5],"data":[0.1,0.2,0.3,0.2,0.2]}]}';

if (!isMainThread) {
  // The I/O thread's side: send `total` calls keeping `inFlight` outstanding; count answers.
  const { mode, total, inFlight } = workerData as { mode: Mode; total: number; inFlight: number };
  const port = parentPort!;
  const out = new Outbox(port);
  let sent = 0;
  let answered = 0;
  const send = (): void => {
    const id = sent++;
    const body = new ArrayBuffer(212);
    const m: WireMessage = [1, id, 'post', '/v2/models/weather/infer', '', HEADERS, body];
    if (mode === 'per-message') port.postMessage([m], [body]);
    else if (mode === 'outbox') out.push(m, body);
    else out.push(m);
  };
  port.on('message', (batch: WireMessage[]) => {
    answered += batch.length;
    if (answered === total) {
      port.postMessage('done');
      port.close();
      return;
    }
    for (let i = 0; i < batch.length && sent < total; i++) send();
  });
  for (let i = 0; i < inFlight; i++) send();
} else {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '200000' }, 'in-flight': { type: 'string', default: '64' } } });
  const total = Number(values.calls);
  const inFlight = Number(values['in-flight']);
  const run = (mode: Mode): Promise<{ perSecond: number; mainUs: number }> => new Promise((resolve) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { mode, total, inFlight } });
    const out = new Outbox(worker);
    const cpu0 = threadCpuUs(process.pid).main;
    const t0 = performance.now();
    worker.on('message', (batch: WireMessage[] | 'done') => {
      if (batch === 'done') {
        const seconds = (performance.now() - t0) / 1000;
        const mainUs = (threadCpuUs(process.pid).main - cpu0) / total;
        void worker.terminate();
        resolve({ perSecond: total / seconds, mainUs });
        return;
      }
      for (const m of batch) {
        const answer: WireMessage = [1, m[1], '200 OK', ['Content-Type', 'application/json'], ANSWER, false, false];
        if (mode === 'per-message') worker.postMessage([answer]);
        else out.push(answer);
      }
    });
  });
  console.log(`${total} calls, ${inFlight} in flight; main thread CPU from /proc (10 ms ticks)`);
  console.log('mode | round trips/s | main thread µs/call');
  for (let r = 0; r < 3; r++) {
    for (const mode of ['per-message', 'outbox', 'outbox-clone'] as const) {
      const x = await run(mode);
      console.log(`${mode} | ${x.perSecond.toFixed(0)} | ${x.mainUs.toFixed(2)}`);
    }
  }
}
