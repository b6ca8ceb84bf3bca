// Ground truth end to end on a real gateway (real HTTP and WebSocket on 127.0.0.1, ONNX Runtime on
// the weather model): answer ids, feedback joined to the answers, accuracy windows, the coded 4xx
// of bad feedback, and a regression model built here.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { valueInfo } from '../../../examples/onnx-export.js';
import { WEATHER_LABELS } from '../../../examples/weather-dataset.js';
import { SluiceWsClient, WsCallError } from '../../../gateway/client/index.js';
import { binaryRequest, copyModels, getJson, postJson, readBinaryResponse, startTestGateway, weatherRows } from '../gateway-harness.js';

/** What the gateway makes: 16 hex digits of randomness, then the answer's sequence number. */
const GENERATED = /^[0-9a-f]{16}-[0-9a-z]+$/;

function weatherCall(rows: number, seed: number, id?: string): Record<string, unknown> {
  const body: Record<string, unknown> = { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 5], data: Array.from(weatherRows(rows, seed)) }] };
  if (id !== undefined) body.id = id;
  return body;
}

interface Answer {
  id: string;
  label: number[];
}

async function ask(url: string, rows: number, seed: number, id?: string): Promise<Answer> {
  const r = await postJson(`${url}/v2/models/weather/infer`, weatherCall(rows, seed, id));
  if (r.status !== 200) throw new Error(`infer failed: ${JSON.stringify(r.body)}`);
  const outputs = r.body.outputs as { name: string; data: number[] }[];
  return { id: r.body.id as string, label: outputs.find((o) => o.name === 'label')!.data };
}

const feedbackUrl = (url: string, model = 'weather'): string => `${url}/v2/models/${model}/feedback`;

t.test('every answer carries an id: the caller\'s, else one the gateway makes (JSON, binary, WebSocket)', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  const mine = await ask(gw.url, 1, 1, 'order-17');
  t.equal(mine.id, 'order-17', 'the caller\'s id comes back');
  const generated = await ask(gw.url, 1, 2);
  t.match(generated.id, GENERATED, 'no id sent: the gateway makes one');
  t.not((await ask(gw.url, 1, 2)).id, generated.id, 'a new one per answer');

  const rows = weatherRows(2, 3);
  const { headers, body } = binaryRequest(
    { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], parameters: { binary_data_size: rows.byteLength } }], parameters: { binary_data_output: true } },
    [rows],
  );
  const res = await fetch(`${gw.url}/v2/models/weather/infer`, { method: 'POST', headers, body });
  t.equal(res.status, 200);
  const binary = await readBinaryResponse(res);
  t.match(binary.header.id, GENERATED, 'a binary answer carries one too');

  const client = await SluiceWsClient.connect(gw.url);
  t.teardown(() => client.close());
  const ws = await client.infer('weather', { id: 'ws-call-1', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 4) }] });
  t.equal(ws.id, 'ws-call-1', 'a WebSocket answer keeps its frame id');
  const bin = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 5) }] }, { binary: true });
  t.match(bin.id, /^[A-Za-z0-9_-]+-\d+$/, 'the client\'s own ids are unique across connections (random prefix)');

  // Each of them is waiting for feedback.
  for (const id of [mine.id, generated.id, binary.header.id as string, ws.id, bin.id]) {
    const rowsOf = id === binary.header.id ? 2 : 1;
    const r = await postJson(feedbackUrl(gw.url), rowsOf === 1 ? { id, label: 0 } : { id, labels: [0, 0] });
    t.equal(r.status, 200, `feedback for ${id} accepted`);
  }
});

t.test('a caller\'s id is kept only as a keyed hash', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  await ask(gw.url, 1, 1, 'customer-4711');
  const generated = await ask(gw.url, 1, 2);
  const v = gw.repository.model('weather')!.versions.get('1')!;
  const keys = [...gw.inference.feedback.of(v)!.store.keys()];
  t.notOk(keys.includes('customer-4711'), 'the raw caller id is not in the store');
  t.ok(keys.includes(gw.inference.feedback.keyOf('customer-4711')), 'its HMAC is');
  t.not(gw.inference.feedback.keyOf('customer-4711'), gw.inference.feedback.keyOf('customer-4712'));
  t.equal(keys.length, 1, 'a generated id (nobody\'s) needs no key: its sequence number finds it');
  t.equal((await postJson(feedbackUrl(gw.url), { id: generated.id, label: 0 })).status, 200);
  const forged = generated.id.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  t.equal((await postJson(feedbackUrl(gw.url), { id: forged, label: 0 })).body.code, 'SLUICE_E_FEEDBACK_UNKNOWN_ID', 'its random part must match');
});

t.test('feedback joins answers by class name or index and feeds the accuracy windows, drift report and metrics', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  const a = await ask(gw.url, 1, 11);
  const b = await ask(gw.url, 1, 12);
  const right = WEATHER_LABELS[a.label[0]!]!;
  const wrongIndex = (b.label[0]! + 1) % WEATHER_LABELS.length;
  const r1 = await postJson(feedbackUrl(gw.url), { id: a.id, label: right });
  t.equal(r1.status, 200);
  t.same(r1.body.accepted, [{ id: a.id, model_name: 'weather', model_version: '1', rows: 1, correct: 1 }], 'a class name, predicted right');
  const r2 = await postJson(`${gw.url}/v2/models/weather/versions/1/feedback`, { id: b.id, label: wrongIndex });
  t.same(r2.body.accepted, [{ id: b.id, model_name: 'weather', model_version: '1', rows: 1, correct: 0 }], 'a class index, predicted wrong');

  const multi = await ask(gw.url, 3, 13);
  const r3 = await postJson(feedbackUrl(gw.url), { id: multi.id, labels: [multi.label[0]!, WEATHER_LABELS[multi.label[1]!], (multi.label[2]! + 1) % 5] });
  t.same(r3.body.accepted, [{ id: multi.id, model_name: 'weather', model_version: '1', rows: 3, correct: 2 }], 'one label per row of a multi-row answer');

  const drift = await getJson(`${gw.url}/v2/models/weather/versions/1/drift`);
  t.equal(drift.status, 200);
  const fb = drift.body.feedback as { task: string; output: string; current: Record<string, unknown>; previous: unknown };
  t.match(fb, { task: 'classification', output: 'label', window_seconds: 300, previous: null });
  t.match(fb.current, { count: 5, correct: 3, mae: null, rmse: null });
  t.equal(fb.current.accuracy, 3 / 5, 'accuracy over the current window, beside the drift figures');
  const report = await getJson(feedbackUrl(gw.url));
  t.same(report.body.feedback, fb, 'GET .../feedback answers the same windows');

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_feedback_total\{model="weather",version="1",outcome="correct"\} 3/);
  t.match(metrics, /sluice_feedback_total\{model="weather",version="1",outcome="wrong"\} 2/);
  t.match(metrics, /sluice_feedback_accuracy\{model="weather",version="1"\} 0\.6/);
});

t.test('bad feedback gets a coded 4xx and changes nothing', async (t) => {
  const root = copyModels(t, ['weather']);
  // The same model with feedback turned off.
  mkdirSync(join(root, 'weather-off', '1'), { recursive: true });
  writeFileSync(join(root, 'weather-off', '1', 'model.onnx'), readFileSync(join(root, 'weather', '1', 'model.onnx')));
  writeFileSync(join(root, 'weather-off', 'config.json'), JSON.stringify({ max_batch_size: 8, feedback: false }));
  const gw = await startTestGateway(t, root, { maxBodyBytes: 64 * 1024 });
  const a = await ask(gw.url, 1, 21);
  const two = await ask(gw.url, 2, 22);
  const code = async (body: unknown, url = feedbackUrl(gw.url)): Promise<[number, string | undefined]> => {
    const r = await postJson(url, body);
    return [r.status, r.body.code];
  };
  t.same(await code({ id: 'never-answered', label: 0 }), [404, 'SLUICE_E_FEEDBACK_UNKNOWN_ID']);
  t.same(await code({ id: a.id, label: 'hail' }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'an unknown class name');
  t.same(await code({ id: a.id, label: 5 }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'a class index past the classes');
  t.same(await code({ id: a.id, label: 1.5 }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'a label that is not an integer');
  t.same(await code({ id: a.id, value: 2.5 }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'a value for a classifier');
  t.same(await code({ id: a.id, labels: [0, 1] }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'two labels for a one-row answer');
  t.same(await code({ id: two.id, label: 0 }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'one label for a two-row answer');
  t.same(await code({ id: a.id, label: 0, value: 1 }), [400, 'SLUICE_E_FEEDBACK_BAD_VALUE'], 'both a label and a value');
  t.same(await code({ label: 0 }), [400, 'SLUICE_E_HTTP_BAD_REQUEST'], 'no id');
  t.same(await code('{"id": '), [400, 'SLUICE_E_HTTP_BAD_JSON']);
  t.same(await code({ id: a.id, label: 'x'.repeat(70_000) }), [413, 'SLUICE_E_HTTP_BODY_TOO_LARGE']);
  t.same(await code({ id: a.id, label: 0 }, feedbackUrl(gw.url, 'nope')), [404, 'SLUICE_E_MODEL_NOT_FOUND']);
  t.same(await code({ id: a.id, label: 0 }, `${gw.url}/v2/models/weather/versions/9/feedback`), [404, 'SLUICE_E_MODEL_VERSION_NOT_FOUND']);
  t.same(await code({ id: a.id, label: 0 }, feedbackUrl(gw.url, 'weather-off')), [422, 'SLUICE_E_FEEDBACK_UNSUPPORTED']);
  t.equal((await getJson(feedbackUrl(gw.url, 'weather-off'))).body.code, 'SLUICE_E_FEEDBACK_UNSUPPORTED', 'nor does it show accuracy');
  const off = await postJson(`${gw.url}/v2/models/weather-off/infer`, weatherCall(1, 1));
  t.equal(off.body.id, undefined, 'a version that takes no feedback makes up no id');

  t.same(await code({ id: a.id, label: 0 }), [200, undefined], 'the answer was still waiting: nothing above applied');
  t.same(await code({ id: a.id, label: 0 }), [409, 'SLUICE_E_FEEDBACK_DUPLICATE'], 'given twice');
  const report = await getJson(feedbackUrl(gw.url));
  t.equal((report.body.feedback as { current: { count: number } }).current.count, 1, 'only the accepted feedback counted');
});

t.test('a batch is checked whole before any of it applies', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  const a = await ask(gw.url, 1, 31);
  const b = await ask(gw.url, 1, 32);
  const bad = await postJson(feedbackUrl(gw.url), { feedback: [{ id: a.id, label: 0 }, { id: 'unknown', label: 1 }] });
  t.equal(bad.status, 404);
  t.equal(bad.body.code, 'SLUICE_E_FEEDBACK_UNKNOWN_ID');
  t.match(bad.body.error, /^feedback\[1\]: /, 'the failing item is named');
  const twice = await postJson(feedbackUrl(gw.url), { feedback: [{ id: a.id, label: 0 }, { id: a.id, label: 1 }] });
  t.equal(twice.body.code, 'SLUICE_E_FEEDBACK_DUPLICATE', 'the same answer twice in one batch');
  t.match((await getJson(feedbackUrl(gw.url))).body.feedback, { current: { count: 0 } }, 'no window holds anything yet');
  const good = await postJson(feedbackUrl(gw.url), { feedback: [{ id: a.id, label: 0 }, { id: b.id, label: WEATHER_LABELS[b.label[0]!] }] });
  t.equal(good.status, 200);
  t.equal((good.body.accepted as unknown[]).length, 2, 'the first item was not applied by the failed batches');
});

t.test('feedback after the TTL is told apart from feedback for an unknown id', async (t) => {
  const root = copyModels(t, ['weather']);
  const configFile = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify({ ...config, feedback: { ttl_seconds: 1 } }));
  const gw = await startTestGateway(t, root);
  const a = await ask(gw.url, 1, 41);
  await new Promise((r) => setTimeout(r, 1100));
  await ask(gw.url, 1, 42); // a later answer pushes the expired one out of the store (a tombstone stays)
  const r = await postJson(feedbackUrl(gw.url), { id: a.id, label: 0 });
  t.equal(r.status, 410);
  t.equal(r.body.code, 'SLUICE_E_FEEDBACK_EXPIRED');
});

t.test('a WebSocket feedback frame joins like POST .../feedback and fails with the same codes', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  const client = await SluiceWsClient.connect(gw.url);
  t.teardown(() => client.close());
  const answers = await Promise.all([1, 2, 3].map((s) => client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 50 + s) }] })));
  const label = (i: number): number => (answers[i]!.outputs.find((o) => o.name === 'label')!.data as number[])[0]!;
  const one = await client.feedback('weather', { id: answers[0]!.id, label: WEATHER_LABELS[label(0)] });
  t.same(one.accepted, [{ id: answers[0]!.id, model_name: 'weather', model_version: '1', rows: 1, correct: 1 }]);
  t.equal(one.type, 'feedback');
  const badName = await client.feedback('weather', { id: answers[1]!.id, label: 'hail' }).catch((e: unknown) => e);
  t.equal((badName as WsCallError).code, 'SLUICE_E_FEEDBACK_BAD_VALUE');
  const batch = await client.feedback('weather', [{ id: answers[1]!.id, label: label(1) }, { id: answers[2]!.id, label: (label(2) + 1) % 5 }], { version: '1' });
  t.same(batch.accepted.map((a) => a.correct), [1, 0]);
  const again = await client.feedback('weather', { id: answers[0]!.id, label: 0 }).catch((e: unknown) => e);
  t.ok(again instanceof WsCallError);
  t.equal((again as WsCallError).code, 'SLUICE_E_FEEDBACK_DUPLICATE');
  t.equal((again as WsCallError).status, 409);
  const unknown = await client.feedback('weather', { id: 'nope', label: 0 }).catch((e: unknown) => e);
  t.equal((unknown as WsCallError).code, 'SLUICE_E_FEEDBACK_UNKNOWN_ID');

  // The frame's own id names the answer when the frame carries no list.
  const four = await client.infer('weather', { id: 'call-4', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 60) }] });
  client.sendRaw(JSON.stringify({ type: 'feedback', id: four.id, model_name: 'weather', label: 0 }));
  const report = await new Promise<Record<string, unknown>>((resolve) => {
    const poll = setInterval(() => {
      const m = client.unmatched.find((x) => (x as { id?: unknown }).id === 'call-4');
      if (m) {
        clearInterval(poll);
        resolve(m as Record<string, unknown>);
      }
    }, 10);
  });
  t.match(report, { id: 'call-4', type: 'feedback', accepted: [{ id: 'call-4', rows: 1 }] });
  const windows = await getJson(feedbackUrl(gw.url));
  t.equal((windows.body.feedback as { current: { count: number } }).current.count, 4);
});

const { onnx } = onnxProto;

/** A regression model with no config beyond max_batch_size: y = 2·x0 + 1·x1, input x [N,2], output y [N,1]. */
function writeRegressionModel(root: string): void {
  const T = onnx.TensorProto.DataType;
  const graph = onnx.GraphProto.create({
    name: 'linear',
    node: [onnx.NodeProto.create({ opType: 'MatMul', name: 'mm', input: ['x', 'w'], output: ['y'] })],
    initializer: [onnx.TensorProto.create({ name: 'w', dims: [2, 1], dataType: T.FLOAT, floatData: [2, 1] })],
    input: [valueInfo('x', T.FLOAT, ['batch', 2])],
    output: [valueInfo('y', T.FLOAT, ['batch', 1])],
  });
  const model = onnx.ModelProto.create({ irVersion: 7, producerName: 'sluice-test', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph });
  mkdirSync(join(root, 'linear', '1'), { recursive: true });
  writeFileSync(join(root, 'linear', '1', 'model.onnx'), onnx.ModelProto.encode(model).finish());
  writeFileSync(join(root, 'linear', 'config.json'), JSON.stringify({ max_batch_size: 8 }));
}

t.test('a regressor read from its outputs takes values and reports MAE and RMSE', async (t) => {
  const root = join(t.testdir(), 'models');
  writeRegressionModel(root);
  const gw = await startTestGateway(t, root);
  const r = await postJson(`${gw.url}/v2/models/linear/infer`, { id: 'trip-1', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 1, 2, 0] }] });
  t.equal(r.status, 200);
  t.same((r.body.outputs as { data: number[] }[])[0]!.data, [3, 4]);
  const label = await postJson(`${gw.url}/v2/models/linear/feedback`, { id: 'trip-1', labels: [3, 4] });
  t.equal(label.body.code, 'SLUICE_E_FEEDBACK_BAD_VALUE', 'a regressor takes values, not labels');
  const given = await postJson(`${gw.url}/v2/models/linear/feedback`, { id: 'trip-1', values: [4, 1] });
  t.equal(given.status, 200);
  t.same(given.body.accepted, [{ id: 'trip-1', model_name: 'linear', model_version: '1', rows: 2, abs_error: 2 }], 'errors 1 and 3');
  const report = await getJson(`${gw.url}/v2/models/linear/feedback`);
  t.match(report.body.feedback, { task: 'regression', output: 'y', current: { count: 2, accuracy: null, correct: null, mae: 2 } });
  t.equal((report.body.feedback as { current: { rmse: number } }).current.rmse, Math.sqrt((1 + 9) / 2));
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_feedback_total\{model="linear",version="1",outcome="value"\} 2/);
  t.match(metrics, /sluice_feedback_mean_absolute_error\{model="linear",version="1"\} 2/);
});

t.test('class names come from the ONNX metadata when the config has none', async (t) => {
  const root = copyModels(t, ['weather']);
  mkdirSync(join(root, 'bare', '1'), { recursive: true });
  writeFileSync(join(root, 'bare', '1', 'model.onnx'), readFileSync(join(root, 'weather', '1', 'model.onnx')));
  writeFileSync(join(root, 'bare', 'config.json'), JSON.stringify({ max_batch_size: 8 }));
  const gw = await startTestGateway(t, root);
  const r = await postJson(`${gw.url}/v2/models/bare/infer`, weatherCall(1, 71));
  const predicted = (r.body.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data[0]!;
  const given = await postJson(feedbackUrl(gw.url, 'bare'), { id: r.body.id, label: WEATHER_LABELS[predicted] });
  t.equal(given.status, 200);
  t.equal((given.body.accepted as { correct: number }[])[0]!.correct, 1);
});
