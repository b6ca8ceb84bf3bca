// Benchmark: what an explanation costs and what it costs inference, on a real gateway (ONNX
// Runtime workers, HTTP on 127.0.0.1) serving the example weather model:
// - one weather row explained (exact, 30 coalitions × 64 background rows = 1 920 rows run + the
//   anchor run), wall-clock ms, median of --explanations runs;
// - single-row infer calls one after another, p50/p99 ms, alone (the baseline) and while a loop of
//   4-row explanations keeps the version's background queue busy, in the same run, so the two
//   differ only by the explanations (which wait below every call in the batcher).
//
//   node dist/bench/micro/explain/explain-cost.js [--calls 400] [--explanations 10]
import { parseArgs } from 'node:util';
import { createLogger } from '../../../lib/log.js';
import { startGateway } from '../../../gateway/index.js';
import { exampleModelsDir } from '../drift/example-models.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '400' }, explanations: { type: 'string', default: '10' } } });
const CALLS = Number(values.calls);
const EXPLANATIONS = Number(values.explanations);

const row = [2.5, 14.4, 6.1, 3.2, 120];
const gw = await startGateway({
  host: '127.0.0.1', port: 0, modelRepository: exampleModelsDir(), maxBodyBytes: 8 << 20, drainTimeoutMs: 5000,
  logger: createLogger('bench', 'silent'), budgets: { maxEventLoopLagMs: 0 },
});
const post = async (path: string, body: unknown): Promise<unknown> => {
  const res = await fetch(`${gw.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json()) as unknown;
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const explainBody = (rows: number, seed: number) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 5], data: Array.from({ length: rows }, () => row).flat() }], parameters: { seed } });
const inferBody = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: row }] };
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function inferLatencies(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await post('/v2/models/weather/infer', inferBody);
    out.push(performance.now() - t0);
  }
  return out;
}

try {
  for (let i = 0; i < 3; i++) await post('/v2/models/weather/explain', explainBody(1, i)); // warm-up
  const explainMs: number[] = [];
  for (let i = 0; i < EXPLANATIONS; i++) {
    const t0 = performance.now();
    await post('/v2/models/weather/explain', explainBody(1, i));
    explainMs.push(performance.now() - t0);
  }
  await inferLatencies(); // warm-up
  const alone = await inferLatencies();
  let running = true;
  let explained = 0;
  const loop = (async () => {
    while (running) {
      await post('/v2/models/weather/explain', explainBody(4, explained));
      explained++;
    }
  })();
  const busy = await inferLatencies();
  running = false;
  await loop;
  const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(2)} ms, p99 ${quantile(xs, 0.99).toFixed(2)} ms`;
  console.log(`one weather row explained (exact, 1 920 + 65 rows run): median ${quantile(explainMs, 0.5).toFixed(1)} ms (runs ${explainMs.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(`infer, ${CALLS} sequential 1-row calls, alone:               ${fmt(alone)}`);
  console.log(`infer, ${CALLS} sequential 1-row calls, explanations running: ${fmt(busy)} (${explained} 4-row explanations meanwhile)`);
  console.log(`ratio busy/alone: p50 ${(quantile(busy, 0.5) / quantile(alone, 0.5)).toFixed(2)}, p99 ${(quantile(busy, 0.99) / quantile(alone, 0.99)).toFixed(2)}`);
} finally {
  await gw.close();
}
