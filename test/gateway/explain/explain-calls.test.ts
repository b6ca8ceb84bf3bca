// Explanations end to end on a real gateway (real HTTP on 127.0.0.1, ONNX Runtime): a linear
// model built here, whose Shapley values are known in closed form, the example weather model, and
// the coded refusals.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyModels, postJson, startTestGateway, weatherRows, writeTypesModel } from '../gateway-harness.js';
import { writeLinearModel, type LinearModel } from './linear-model.js';
import { readTokenFile } from '../../../gateway/access/token-file.js';

interface OutputExplanation { name: string; columns: string[]; expected_value: number[]; predictions: number[][]; attributions: number[][][] }
interface Explanation {
  model_version: string; method: string; seed: number; features: string[]; coalitions: number; evaluated_rows: number;
  background: { size: number; mean: number[] }; outputs: OutputExplanation[];
}

/** Stated tolerances: against the background's own mean (the E[x] the method uses) only float32 rounding
 * remains; against the reference profile's mean, the stratified 64-row sample's error too. */
const TOL_BACKGROUND = 1e-4;
const TOL_PROFILE = 0.2;

function rowsOf(n: number, f: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n * f; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out.push(Math.round(((s / 2 ** 31) * 8 - 4) * 1000) / 1000);
  }
  return out;
}

/** Largest |φ − w_i·(x_i − m_i)| over rows, output columns and features. */
function maxError(e: Explanation, model: LinearModel, x: number[], means: number[]): number {
  const f = means.length;
  const out = e.outputs[0]!;
  let max = 0;
  out.attributions.forEach((row, r) => row.forEach((phi, k) => phi.forEach((v, i) => {
    max = Math.max(max, Math.abs(v - model.weights[i]![k]! * (x[r * f + i]! - means[i]!)));
  })));
  return max;
}

async function explain(url: string, body: Record<string, unknown>, path = 'linear4'): Promise<{ status: number; body: Explanation & { code?: string } }> {
  const r = await postJson(`${url}/v2/models/${path}/explain`, body);
  return { status: r.status, body: r.body as unknown as Explanation & { code?: string } };
}

t.test('linear model: exact and KernelSHAP attributions are w_i · (x_i − E[x_i])', async (t) => {
  const root = join(t.testdir(), 'models');
  mkdirSync(root, { recursive: true });
  const four = writeLinearModel(root, 'linear4', 4, 2);
  const twelve = writeLinearModel(root, 'linear12', 12, 1, {}, 5);
  const gw = await startTestGateway(t, root);

  const x4 = rowsOf(3, 4, 11);
  const input4 = { name: 'x', datatype: 'FP32', shape: [3, 4], data: x4 };
  const exact = await explain(gw.url, { inputs: [input4], parameters: { seed: 7 } });
  t.equal(exact.status, 200);
  t.equal(exact.body.method, 'exact', '4 features: exact Shapley values by default');
  t.equal(exact.body.coalitions, 16, 'all 2^4 coalitions');
  t.equal(exact.body.seed, 7);
  t.equal(exact.body.outputs[0]!.attributions.length, 3, 'one set per row');
  t.equal(exact.body.outputs[0]!.attributions[0]!.length, 2, 'per output column');
  const exactErr = maxError(exact.body, four, x4, exact.body.background.mean);
  const exactProfileErr = maxError(exact.body, four, x4, four.means);
  t.ok(exactErr < TOL_BACKGROUND, `exact: max abs error ${exactErr.toExponential(2)} against the background mean`);
  t.ok(exactProfileErr < TOL_PROFILE, `exact: max abs error ${exactProfileErr.toFixed(4)} against the reference mean`);

  const kernel = await explain(gw.url, { inputs: [input4], parameters: { seed: 7, method: 'kernel', nsamples: 64 } });
  t.equal(kernel.status, 200);
  t.equal(kernel.body.method, 'kernel');
  const kernelErr = maxError(kernel.body, four, x4, kernel.body.background.mean);
  t.ok(kernelErr < TOL_BACKGROUND, `kernel (4 features, 64 coalitions): max abs error ${kernelErr.toExponential(2)}`);

  const x12 = rowsOf(2, 12, 23);
  const wide = await explain(gw.url, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 12], data: x12 }], parameters: { seed: 1, nsamples: 256 } }, 'linear12');
  t.equal(wide.status, 200);
  t.equal(wide.body.method, 'kernel', '12 features: KernelSHAP by default (exact_max_features 10)');
  t.equal(wide.body.coalitions, 258);
  const wideErr = maxError(wide.body, twelve, x12, wide.body.background.mean);
  const wideProfileErr = maxError(wide.body, twelve, x12, twelve.means);
  t.ok(wideErr < TOL_BACKGROUND, `kernel (12 features, 256 coalitions): max abs error ${wideErr.toExponential(2)}`);
  t.ok(wideProfileErr < TOL_PROFILE, `kernel: max abs error ${wideProfileErr.toFixed(4)} against the reference mean`);

  const again = await explain(gw.url, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 12], data: x12 }], parameters: { seed: 1, nsamples: 256 } }, 'linear12');
  t.same(again.body.outputs, wide.body.outputs, 'the same seed gives the same explanation');
  t.same(again.body.background, wide.body.background);
});

t.test('weather: attributions of every row and class sum to f(x) − E[f] (efficiency)', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  const rows = 4;
  const x = Array.from(weatherRows(rows, 9));
  const started = performance.now();
  const r = await explain(gw.url, { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 5], data: x }], parameters: { seed: 42 } }, 'weather');
  const ms = performance.now() - started;
  t.equal(r.status, 200);
  const e = r.body;
  t.equal(e.method, 'exact');
  t.same(e.features, ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year'], 'feature names from the reference profile');
  const probs = e.outputs.find((o) => o.name === 'probabilities')!;
  t.same(probs.columns, ['probabilities.drizzle', 'probabilities.fog', 'probabilities.rain', 'probabilities.snow', 'probabilities.sun']);
  t.notOk(e.outputs.some((o) => o.name === 'label'), 'the INT64 label is not explained');
  let worst = 0;
  for (let row = 0; row < rows; row++) {
    for (let k = 0; k < probs.columns.length; k++) {
      const sum = probs.attributions[row]![k]!.reduce((a, b) => a + b, 0);
      worst = Math.max(worst, Math.abs(sum - (probs.predictions[row]![k]! - probs.expected_value[k]!)));
    }
  }
  t.ok(worst < 1e-6, `efficiency holds to ${worst.toExponential(2)}`);
  const direct = await postJson(`${gw.url}/v2/models/weather/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 5], data: x }] });
  const answered = (direct.body.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'probabilities')!.data;
  t.ok(probs.predictions.flat().every((p, i) => Math.abs(p - answered[i]!) < 1e-6), 'predictions are what infer answers');
  // The coalition rows are counted in the explain metrics; the calls' batch metrics saw the one call.
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}\\{model="weather",version="1"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.equal(value('sluice_inference_batch_size_sum'), rows, 'calls: the direct call\'s rows only');
  t.equal(value('sluice_inference_batch_size_count'), 1);
  t.equal(value('sluice_inference_queue_duration_seconds_count'), 1);
  t.equal(value('sluice_inference_compute_duration_seconds_count'), 1);
  t.equal(value('sluice_explain_batch_size_sum'), e.evaluated_rows, 'explain: every coalition row run');
  t.ok(value('sluice_explain_compute_duration_seconds_count') >= 1);
  t.comment(`weather, ${rows} rows exact (${e.evaluated_rows} rows run): ${ms.toFixed(1)} ms, ${(ms / rows).toFixed(1)} ms per row`);
});

t.test('bad calls are refused with codes and leave the gateway serving', async (t) => {
  const root = join(t.testdir(), 'models');
  mkdirSync(root, { recursive: true });
  writeLinearModel(root, 'linear4', 4, 1, { explain: { max_rows: 2, max_queue_rows: 200 } });
  writeLinearModel(root, 'noprofile', 4, 1, { drift: undefined });
  writeLinearModel(root, 'linear12', 12, 1);
  writeTypesModel(root);
  const gw = await startTestGateway(t, root);
  const input = (rows: number, f = 4) => ({ name: 'x', datatype: 'FP32', shape: [rows, f], data: rowsOf(rows, f, 3) });

  const cases: [string, string, Record<string, unknown>, number, string][] = [
    ['wrong shape', 'linear4', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
    ['wrong datatype', 'linear4', { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 4], data: [1, 2, 3, 4] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATATYPE'],
    ['too many rows', 'linear4', { inputs: [input(3)] }, 413, 'SLUICE_E_EXPLAIN_TOO_MANY_ROWS'],
    ['seed not an integer', 'linear4', { inputs: [input(1)], parameters: { seed: 1.5 } }, 400, 'SLUICE_E_EXPLAIN_BAD_PARAMETER'],
    ['seed out of range', 'linear4', { inputs: [input(1)], parameters: { seed: -1 } }, 400, 'SLUICE_E_EXPLAIN_BAD_PARAMETER'],
    ['unknown method', 'linear4', { inputs: [input(1)], parameters: { method: 'lime' } }, 400, 'SLUICE_E_EXPLAIN_BAD_PARAMETER'],
    ['nsamples too small', 'linear4', { inputs: [input(1)], parameters: { method: 'kernel', nsamples: 1 } }, 400, 'SLUICE_E_EXPLAIN_BAD_PARAMETER'],
    ['exact past exact_max_features', 'linear12', { inputs: [input(1, 12)], parameters: { method: 'exact' } }, 400, 'SLUICE_E_EXPLAIN_BAD_PARAMETER'],
    ['non-tabular model', 'types', { inputs: [{ name: 'half', datatype: 'FP16', shape: [1, 3], data: [0, 0, 0] }] }, 422, 'SLUICE_E_EXPLAIN_UNSUPPORTED'],
    ['no reference profile', 'noprofile', { inputs: [input(1)] }, 422, 'SLUICE_E_EXPLAIN_NO_BACKGROUND'],
    ['unknown model', 'nosuch', { inputs: [input(1)] }, 404, 'SLUICE_E_MODEL_NOT_FOUND'],
    ['explanation queue full', 'linear4', { inputs: [input(1)] }, 503, 'SLUICE_E_EXPLAIN_QUEUE_FULL'],
  ];
  for (const [what, model, body, status, code] of cases) {
    const r = await explain(gw.url, body, model);
    t.equal(r.status, status, `${what}: ${status}`);
    t.equal(r.body.code, code, `${what}: ${code}`);
  }
  const bad = await postJson(`${gw.url}/v2/models/linear4/explain`, '{"inputs": [');
  t.equal(bad.body.code, 'SLUICE_E_HTTP_BAD_JSON');
  const infer = await postJson(`${gw.url}/v2/models/linear4/infer`, { inputs: [input(1)] });
  t.equal(infer.status, 200, 'inference goes on');
  const v = gw.repository.model('linear4')!.versions.get('1')!;
  t.equal(v.batcher.backgroundRows, 0, 'the refused explanation left nothing queued');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_explanations_total\{model="linear4",version="1",method="unknown",outcome="SLUICE_E_EXPLAIN_QUEUE_FULL"\} 1/);
});

t.test('explain needs the same scope as infer on that model', async (t) => {
  const models = copyModels(t, ['weather']);
  const path = join(models, '..', 'tokens'); // t.testdir() would wipe the models
  writeFileSync(path, ['tok-weather-0123456789ab infer:weather', 'tok-other-0123456789abcd infer:text-direction', 'tok-metrics-0123456789ab metrics'].join('\n'));
  const gw = await startTestGateway(t, models, { workerThreads: 1, access: { tokens: readTokenFile(path) } });
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 28.9, 14.4, 2.1, 200] }], parameters: { seed: 1 } });
  const explainWith = async (token: string | undefined) => {
    const res = await fetch(`${gw.url}/v2/models/weather/explain`, { method: 'POST', body, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    return { status: res.status, code: ((await res.json()) as { code?: string }).code };
  };
  t.same(await explainWith(undefined), { status: 401, code: 'SLUICE_E_AUTH_MISSING' });
  t.same(await explainWith('tok-other-0123456789abcd'), { status: 403, code: 'SLUICE_E_GATEWAY_SCOPE' }, 'infer on another model is not enough');
  t.same(await explainWith('tok-metrics-0123456789ab'), { status: 403, code: 'SLUICE_E_GATEWAY_SCOPE' });
  t.equal((await explainWith('tok-weather-0123456789ab')).status, 200, 'infer:weather may explain weather');
});
