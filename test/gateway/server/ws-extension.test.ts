// /v2/ws on a real gateway: real ORT workers on the example models, answers checked against ORT
// run directly, and every call through the same inference entry as HTTP (metrics included).
import t, { type Test } from 'tap';
import ort from 'onnxruntime-node';
import { join } from 'node:path';
import { SluiceWsClient, WsCallError } from '../../../gateway/client/index.js';
import { encodeBinaryFrame } from '../../../gateway/server/ws-frame-codec.js';
import { copyModels, directRun, randomFloats, startTestGateway, weatherRows } from '../gateway-harness.js';

const TD = 3 * 48 * 192;

function close(t: Test, a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  t.equal(a.length, b.length, `${what}: length`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(Number(a[i]) - Number(b[i])));
  t.ok(max < 1e-5, `${what}: max difference ${max}`);
}

t.test('WebSocket calls on the example models', async (t) => {
  const models = copyModels(t, ['weather', 'text-direction']);
  const gw = await startTestGateway(t, models, { workerThreads: 2 });
  const client = await SluiceWsClient.connect(gw.url);
  t.teardown(() => client.close());

  t.test('a text frame on weather answers what ORT answers', async (t) => {
    const rows = weatherRows(3, 7);
    const r = await client.infer('weather', { id: 'w1', inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 5], data: rows }] });
    t.equal(r.id, 'w1');
    t.equal(r.model_name, 'weather');
    t.equal(r.model_version, '1');
    const direct = await directRun(join(models, 'weather', '1', 'model.onnx'), { features: new ort.Tensor('float32', rows, [3, 5]) });
    const probs = r.outputs.find((o) => o.name === 'probabilities')!;
    t.same(probs.shape, [3, 5]);
    close(t, probs.data as number[], direct.probabilities!.data as Float32Array, 'probabilities');
    t.same(r.outputs.find((o) => o.name === 'label')!.data, Array.from(direct.label!.data as BigInt64Array, Number));
  });

  t.test('a binary frame on text-direction answers what ORT answers, as binary outputs', async (t) => {
    const x = randomFloats(2 * TD, 11).map((v) => v * 2 - 1);
    const r = await client.infer('text-direction', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3, 48, 192], data: x }] }, { binary: true });
    const out = r.outputs[0]!;
    t.type(out.data, Float32Array);
    t.same(out.shape, [2, 2]);
    const direct = await directRun(join(models, 'text-direction', '1', 'model.onnx'), { x: new ort.Tensor('float32', x, [2, 3, 48, 192]) });
    close(t, out.data as Float32Array, direct['softmax_0.tmp_0']!.data as Float32Array, 'softmax');
  });

  t.test('model_version picks the version like versions/{v} in the URL', async (t) => {
    const r = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 3) }] }, { version: '1' });
    t.equal(r.model_version, '1');
    const err = await client.infer('weather', { id: 'v9', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 3) }] }, { version: '9' }).catch((e: unknown) => e);
    t.match(err, { id: 'v9', code: 'SLUICE_E_MODEL_VERSION_NOT_FOUND', status: 404 });
  });

  t.test('1,000 concurrent calls on one connection are all answered, each with its own rows', async (t) => {
    const rows = weatherRows(1000, 5);
    const direct = await directRun(join(models, 'weather', '1', 'model.onnx'), { features: new ort.Tensor('float32', rows, [1000, 5]) });
    const labels = direct.label!.data as BigInt64Array;
    const calls = Array.from({ length: 1000 }, (_, i) =>
      client.infer('weather', { id: `c${i}`, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: rows.subarray(i * 5, i * 5 + 5) }] }, { binary: i % 2 === 0 }));
    const answers = await Promise.all(calls);
    t.equal(answers.length, 1000);
    let wrong = 0;
    answers.forEach((a, i) => {
      const label = a.outputs.find((o) => o.name === 'label')!.data as ArrayLike<number | bigint>;
      if (a.id !== `c${i}` || BigInt(label[0]!) !== labels[i]) wrong++;
    });
    t.equal(wrong, 0, 'every answer has its call\'s id and its row\'s label');
    t.equal(client.inFlight, 0);
  });

  t.test('a quick call overtakes a slow one sent before it', async (t) => {
    const order: string[] = [];
    const big = client.infer('text-direction', { id: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [64, 3, 48, 192], data: new Float32Array(64 * TD) }] }, { binary: true })
      .then(() => order.push('slow'));
    const quick = client.infer('weather', { id: 'quick', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 1) }] })
      .then(() => order.push('quick'));
    await Promise.all([big, quick]);
    t.same(order, ['quick', 'slow']);
  });

  t.test('bad requests get coded errors with their id and the connection keeps serving', async (t) => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['unknown model', { model_name: 'nope', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }] }, 'SLUICE_E_MODEL_NOT_FOUND'],
      ['wrong datatype', { model_name: 'weather', inputs: [{ name: 'features', datatype: 'INT32', shape: [1, 5], data: [1, 2, 3, 4, 5] }] }, 'SLUICE_E_PROTOCOL_BAD_DATATYPE'],
      ['wrong shape', { model_name: 'weather', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['data count off', { model_name: 'weather', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 2] }] }, 'SLUICE_E_PROTOCOL_BAD_DATA'],
      ['no inputs', { model_name: 'weather', inputs: [] }, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['unknown output', { model_name: 'weather', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }], outputs: [{ name: 'nope' }] }, 'SLUICE_E_PROTOCOL_BAD_OUTPUT'],
    ];
    for (const [what, body, code] of cases) {
      const reply = new Promise<Record<string, unknown>>((r) => client.socket.once('message', (d: Buffer) => r(JSON.parse(d.toString()) as Record<string, unknown>)));
      client.sendRaw(JSON.stringify({ id: what, ...body }));
      const m = await reply;
      t.same([m.id, m.code, m.status], [what, code, code.includes('NOT_FOUND') ? 404 : 400], what);
    }
    const reply = new Promise<Record<string, unknown>>((r) => client.socket.once('message', (d: Buffer) => r(JSON.parse(d.toString()) as Record<string, unknown>)));
    const header = { id: 'short', model_name: 'weather', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], parameters: { binary_data_size: 20 } }] };
    client.sendRaw(encodeBinaryFrame(JSON.stringify(header), [new Uint8Array(12)]));
    t.same([(await reply).id, (await reply).code], ['short', 'SLUICE_E_PROTOCOL_BAD_BINARY'], 'binary sizes that do not add up');
    const ok = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 2) }] });
    t.equal(ok.model_name, 'weather');
  });

  t.test('WebSocket calls are counted in the same metrics as HTTP calls', async (t) => {
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const count = Number(/sluice_inference_requests_total\{model="weather",version="1",outcome="success"\} (\d+)/.exec(metrics)?.[1]);
    t.ok(count >= 1003, `weather successes counted: ${count}`);
    t.match(metrics, /sluice_request_decode_duration_seconds_count\{protocol="ws_json"\} \d+/);
    t.match(metrics, /\{protocol="ws_binary"\}/);
  });

  t.test('HTTP and WebSocket answer the same call identically', async (t) => {
    const rows = weatherRows(2, 99);
    const body = { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], data: Array.from(rows) }] };
    const http = (await (await fetch(`${gw.url}/v2/models/weather/infer`, { method: 'POST', body: JSON.stringify(body) })).json()) as { outputs: unknown };
    const ws = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], data: rows }] });
    t.same(ws.outputs, http.outputs);
  });

  t.test('a call still running when its connection closes does not break the gateway', async (t) => {
    const c2 = await SluiceWsClient.connect(gw.url);
    const pending = c2.infer('text-direction', { inputs: [{ name: 'x', datatype: 'FP32', shape: [8, 3, 48, 192], data: new Float32Array(8 * TD) }] }, { binary: true }).catch((e: unknown) => e);
    await c2.close();
    t.type(await pending, Error);
    const r = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherRows(1, 4) }] });
    t.equal(r.model_name, 'weather');
  });

  t.test('a message over the gateway\'s body limit closes its connection with 1009', async (t) => {
    const c2 = await SluiceWsClient.connect(gw.url);
    const closed = new Promise<number>((r) => c2.socket.once('close', (code: number) => r(code)));
    const rows = 9 * 1024 * 1024 / 20;
    c2.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 5], data: new Float32Array(rows * 5) }] }, { binary: true }).catch(() => {});
    t.equal(await closed, 1009, '9 MB against the harness\'s 8 MB maxBodyBytes');
  });

  t.test('errors are WsCallError with the gateway\'s code', async (t) => {
    const err = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3] }] }).catch((e: unknown) => e);
    t.type(err, WsCallError);
    t.equal((err as WsCallError).code, 'SLUICE_E_PROTOCOL_BAD_DATA');
  });
});
