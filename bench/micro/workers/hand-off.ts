// Micro-benchmark: the round trip of one small batch from the main thread to a worker thread and
// back, the hop every inference call pays (issue 20). The worker does nothing but answer: what is
// measured is the hand-off alone. Candidates, in the same run, alternating round by round:
//   piscina     Piscina.run with a transferred buffer, moved back (gateway/workers/pool.ts), with
//               piscina's defaults, with recordTiming off, and with atomics disabled
//   port        a MessagePort per worker, postMessage with the buffer transferred both ways
//   atomics     a SharedArrayBuffer slot: the worker blocks in Atomics.wait, the main thread is
//               woken by Atomics.waitAsync (no message at all)
// Reports the median round trip (wall time, µs, one call in flight: the 1-connection case) and the
// main thread's CPU per round trip (µs: what it costs the event loop at load), medians of rounds.
//
//   node dist/bench/micro/workers/hand-off.js [--ms 300] [--rounds 5]
import { readFileSync } from 'node:fs';
import { MessageChannel, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { microOptions } from '../cpu-timer.js';
import { median } from '../../report/summary.js';

const { ms: MS, rounds: ROUNDS } = microOptions();
const FLOATS = 8;

const WORKER = `
const { workerData } = require('node:worker_threads');
if (workerData && workerData.mode === 'port') {
  const port = workerData.port;
  port.on('message', (m) => port.postMessage(m, [m.data.buffer]));
} else if (workerData && workerData.mode === 'atomics') {
  const i32 = new Int32Array(workerData.sab);
  const f32 = new Float32Array(workerData.sab, 16);
  for (;;) {
    Atomics.wait(i32, 0, 0);
    if (Atomics.load(i32, 0) === 2) break;
    f32[0] = f32[0] + 1;
    Atomics.store(i32, 0, 0);
    Atomics.store(i32, 1, 1);
    Atomics.notify(i32, 1);
  }
}
`;

/** ES2024's Atomics.waitAsync (in Node since 16); the project's TypeScript lib is older. */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

interface Candidate {
  name: string;
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

async function piscina(name: string, options: { recordTiming?: boolean; atomics?: 'sync' | 'disabled' }): Promise<Candidate> {
  const pool = new Piscina({ filename: new URL('./hand-off-task.js', import.meta.url).href, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 2, idleTimeout: Number.MAX_SAFE_INTEGER, ...options });
  let data: Float32Array = new Float32Array(FLOATS);
  return {
    name,
    async roundTrip() {
      const back = (await pool.run({ op: 'run', data }, { transferList: [data.buffer as ArrayBuffer] })) as Float32Array;
      data = back;
    },
    close: () => pool.close(),
  };
}

async function port(): Promise<Candidate> {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { eval: true, workerData: { mode: 'port', port: port2 }, transferList: [port2] });
  let data: Float32Array = new Float32Array(FLOATS);
  let resolve: (() => void) | undefined;
  port1.on('message', (m: { data: Float32Array }) => {
    data = m.data;
    resolve!();
  });
  return {
    name: 'port',
    roundTrip() {
      return new Promise<void>((r) => {
        resolve = r;
        port1.postMessage({ op: 'run', data }, [data.buffer as ArrayBuffer]);
      });
    },
    async close() {
      port1.close();
      await worker.terminate();
    },
  };
}

async function atomics(): Promise<Candidate> {
  const sab = new SharedArrayBuffer(16 + FLOATS * 4);
  const i32 = new Int32Array(sab);
  const worker = new Worker(WORKER, { eval: true, workerData: { mode: 'atomics', sab } });
  return {
    name: 'atomics',
    async roundTrip() {
      Atomics.store(i32, 1, 0);
      Atomics.store(i32, 0, 1);
      Atomics.notify(i32, 0);
      const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(i32, 1, 0);
      if (w.async) await w.value;
    },
    async close() {
      Atomics.store(i32, 0, 2);
      Atomics.notify(i32, 0);
      await worker.terminate();
    },
  };
}

/** Median round trip (µs) and main-thread CPU per round trip (µs) over MS ms of wall time. */
async function measure(c: Candidate): Promise<{ p50: number; cpu: number }> {
  for (let i = 0; i < 2000; i++) await c.roundTrip();
  const samples: number[] = [];
  const cpu0 = threadCpuNs();
  const start = performance.now();
  while (performance.now() - start < MS) {
    const t = performance.now();
    await c.roundTrip();
    samples.push(performance.now() - t);
  }
  const cpu = (threadCpuNs() - cpu0) / 1000;
  return { p50: median(samples) * 1000, cpu: cpu / samples.length };
}

/** This thread's CPU time, ns (Linux schedstat: Node 20 has no process.threadCpuUsage). */
function threadCpuNs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
}

const candidates = [await piscina('piscina', {}), await piscina('piscina, recordTiming off', { recordTiming: false }), await piscina('piscina, atomics disabled', { atomics: 'disabled' }), await port(), await atomics()];
const results = new Map<string, { p50: number[]; cpu: number[] }>(candidates.map((c) => [c.name, { p50: [], cpu: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? candidates : [...candidates].reverse();
  for (const c of order) {
    const m = await measure(c);
    results.get(c.name)!.p50.push(m.p50);
    results.get(c.name)!.cpu.push(m.cpu);
  }
}
for (const c of candidates) await c.close();
console.log('| hand-off | round trip p50 µs (median of rounds) | main-thread CPU µs per round trip |');
console.log('|---|---|---|');
for (const [name, r] of results) console.log(`| ${name} | ${median(r.p50).toFixed(1)} | ${median(r.cpu).toFixed(1)} |`);
