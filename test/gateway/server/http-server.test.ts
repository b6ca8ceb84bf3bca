import t from 'tap';
import ort from 'onnxruntime-node';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  binaryRequest, copyModels, directRun, getJson, postJson, randomFloats, readBinaryResponse, startTestGateway, weatherRows,
} from '../gateway-harness.js';

const TEXT_DIRECTION_INPUT = 3 * 48 * 192;

t.test('gateway on the example models', async (t) => {
  const models = copyModels(t, ['weather', 'text-direction']);
  const gw = await startTestGateway(t, models);
  const u = gw.url;

  t.test('serves server metadata, liveness and readiness', async (t) => {
    const meta = await getJson(`${u}/v2`);
    t.equal(meta.status, 200);
    t.equal(meta.body.name, 'sluice');
    t.ok((meta.body.extensions as string[]).includes('binary_tensor_data'));
    t.same((await getJson(`${u}/v2/health/live`)).body, { live: true });
    t.same((await getJson(`${u}/v2/health/ready`)).body, { ready: true });
  });

  t.test('serves model metadata with and without a version, inputs read from config', async (t) => {
    const m = await getJson(`${u}/v2/models/weather`);
    t.equal(m.status, 200);
    t.match(m.body, {
      name: 'weather', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 5] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 5] }, { name: 'label', datatype: 'INT64', shape: [-1] }],
    });
    const v = await getJson(`${u}/v2/models/text-direction/versions/1`);
    t.match(v.body, { name: 'text-direction', inputs: [{ name: 'x', shape: [-1, 3, 48, 192] }] });
    t.same((await getJson(`${u}/v2/models/weather/ready`)).body, { name: 'weather', version: '1', ready: true });
    t.same((await getJson(`${u}/v2/models/weather/versions/1/ready`)).body, { name: 'weather', version: '1', ready: true });
  });

  t.test('unknown routes, models and versions are 404, a wrong method 405, each with an error body', async (t) => {
    const cases: [string, string, number, string][] = [
      ['GET', '/v3', 404, 'SLUICE_E_HTTP_NOT_FOUND'],
      ['GET', '/v2/models/nope', 404, 'SLUICE_E_MODEL_NOT_FOUND'],
      ['GET', '/v2/models/nope/ready', 404, 'SLUICE_E_MODEL_NOT_FOUND'],
      ['GET', '/v2/models/weather/versions/7', 404, 'SLUICE_E_MODEL_VERSION_NOT_FOUND'],
      ['GET', '/v2/models/weather/versions/7/ready', 404, 'SLUICE_E_MODEL_VERSION_NOT_FOUND'],
      ['POST', '/v2/models/nope/infer', 404, 'SLUICE_E_MODEL_NOT_FOUND'],
      ['POST', '/v2/models/weather/versions/2/infer', 404, 'SLUICE_E_MODEL_VERSION_NOT_FOUND'],
      ['GET', '/v2/models/weather/infer', 405, 'SLUICE_E_HTTP_METHOD_NOT_ALLOWED'],
      ['DELETE', '/v2/models/weather', 405, 'SLUICE_E_HTTP_METHOD_NOT_ALLOWED'],
    ];
    for (const [method, path, status, code] of cases) {
      const res = await fetch(`${u}${path}`, { method, body: method === 'POST' ? '{"inputs":[{"name":"features","datatype":"FP32","shape":[1,5],"data":[1,2,3,4,5]}]}' : undefined });
      t.equal(res.status, status, `${method} ${path}`);
      t.equal(((await res.json()) as { code: string }).code, code, `${method} ${path}`);
    }
  });

  t.test('a call to an unknown model or version is refused as such before its body is parsed', async (t) => {
    for (const path of ['/v2/models/nope/infer', '/v2/models/weather/versions/2/infer']) {
      const res = await fetch(`${u}${path}`, { method: 'POST', headers: { 'Inference-Header-Content-Length': '3' }, body: '{no json at all' });
      t.equal(res.status, 404, path);
      t.match(((await res.json()) as { code: string }).code, /^SLUICE_E_MODEL_(VERSION_)?NOT_FOUND$/, 'the missing model is what is named, not the body');
    }
    const metrics = await (await fetch(`${u}/metrics`)).text();
    t.notMatch(metrics, /model="nope"/, 'the unknown name is not a label');
  });

  t.test('JSON inference on weather answers what ONNX Runtime answers for the same input', async (t) => {
    const rows = weatherRows(3, 7);
    const res = await postJson(`${u}/v2/models/weather/infer`, {
      id: 'call-1',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 5], data: Array.from(rows) }],
    });
    t.equal(res.status, 200);
    t.equal(res.body.model_name, 'weather');
    t.equal(res.body.model_version, '1');
    t.equal(res.body.id, 'call-1');
    const direct = await directRun(join(models, 'weather/1/model.onnx'), { features: new ort.Tensor('float32', rows, [3, 5]) });
    const outputs = res.body.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[];
    t.same(outputs.map((o) => [o.name, o.datatype, o.shape]), [['probabilities', 'FP32', [3, 5]], ['label', 'INT64', [3]]]);
    t.same(outputs[0]!.data, Array.from(direct.probabilities!.data as Float32Array), 'probabilities bit for bit');
    t.same(outputs[1]!.data, Array.from(direct.label!.data as BigInt64Array, Number));
  });

  t.test('nested JSON data is accepted as row-major', async (t) => {
    const res = await postJson(`${u}/v2/models/weather/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], data: [[1, 20, 10, 3, 100], [0, 10, 2, 1, 200]] }],
      outputs: [{ name: 'label' }],
    });
    t.equal(res.status, 200);
    const outputs = res.body.outputs as { name: string; shape: number[] }[];
    t.same(outputs.map((o) => [o.name, o.shape]), [['label', [2]]], 'only the requested output');
  });

  t.test('binary inference on text-direction (binary in and out) answers what ONNX Runtime answers', async (t) => {
    const x = randomFloats(2 * TEXT_DIRECTION_INPUT, 11);
    // A header whose length is not a multiple of 4 puts the tensor bytes at an odd offset in the body.
    const req = binaryRequest({
      id: 'odd',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3, 48, 192], parameters: { binary_data_size: x.byteLength } }],
      parameters: { binary_data_output: true },
    }, [x]);
    const res = await fetch(`${u}/v2/models/text-direction/infer`, { method: 'POST', headers: req.headers, body: req.body });
    t.equal(res.status, 200);
    t.equal(res.headers.get('content-type'), 'application/octet-stream');
    const { header, binary } = await readBinaryResponse(res);
    t.match(header, { model_name: 'text-direction', outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } }] });
    const got = new Float32Array(binary.buffer.slice(binary.byteOffset, binary.byteOffset + binary.byteLength));
    const direct = await directRun(join(models, 'text-direction/1/model.onnx'), { x: new ort.Tensor('float32', x, [2, 3, 48, 192]) });
    t.same(Array.from(got), Array.from(direct['softmax_0.tmp_0']!.data as Float32Array));
  });

  t.test('binary input with JSON output, and binary chosen per output', async (t) => {
    const rows = weatherRows(2, 3);
    const req = binaryRequest({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], parameters: { binary_data_size: rows.byteLength } }],
      outputs: [{ name: 'label', parameters: { binary_data: true } }, { name: 'probabilities' }],
    }, [rows]);
    const res = await fetch(`${u}/v2/models/weather/infer`, { method: 'POST', headers: req.headers, body: req.body });
    t.equal(res.status, 200);
    const { header, binary } = await readBinaryResponse(res);
    const outputs = header.outputs as { name: string; data?: number[]; parameters?: { binary_data_size: number } }[];
    t.equal(outputs[0]!.name, 'label');
    t.same(outputs[0]!.parameters, { binary_data_size: 16 });
    t.equal(outputs[1]!.data!.length, 10);
    const direct = await directRun(join(models, 'weather/1/model.onnx'), { features: new ort.Tensor('float32', rows, [2, 5]) });
    const labels = new BigInt64Array(binary.buffer.slice(binary.byteOffset, binary.byteOffset + 16));
    t.same(Array.from(labels), Array.from(direct.label!.data as BigInt64Array));
    t.same(outputs[1]!.data, Array.from(direct.probabilities!.data as Float32Array));
  });

  t.test('bad inputs get a 4xx with the code of what was wrong', async (t) => {
    const ok = { name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] };
    const infer = `${u}/v2/models/weather/infer`;
    const cases: [string, unknown, number, string][] = [
      ['malformed JSON', '{"inputs": [', 400, 'SLUICE_E_HTTP_BAD_JSON'],
      ['a JSON array body', '[]', 400, 'SLUICE_E_HTTP_BAD_JSON'],
      ['no inputs', {}, 400, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['empty inputs', { inputs: [] }, 400, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['an input that is not an object', { inputs: [1] }, 400, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['an input without a name', { inputs: [{ ...ok, name: undefined }] }, 400, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['an unknown input name', { inputs: [{ ...ok, name: 'feature' }] }, 400, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['the same input twice', { inputs: [ok, ok] }, 400, 'SLUICE_E_PROTOCOL_BAD_INPUT'],
      ['an unknown datatype', { inputs: [{ ...ok, datatype: 'FLOAT32' }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATATYPE'],
      ['the wrong datatype', { inputs: [{ ...ok, datatype: 'FP64' }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATATYPE'],
      ['a shape that is not an array', { inputs: [{ ...ok, shape: '1,5' }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['a negative dimension', { inputs: [{ ...ok, shape: [-1, 5] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['the wrong rank', { inputs: [{ ...ok, shape: [5] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['the wrong feature dimension', { inputs: [{ ...ok, shape: [1, 4], data: [1, 2, 3, 4] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['data shorter than the shape', { inputs: [{ ...ok, data: [1, 2, 3, 4] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATA'],
      ['a string in FP32 data', { inputs: [{ ...ok, data: ['a', 2, 3, 4, 5] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATA'],
      ['data that is not an array', { inputs: [{ ...ok, data: 5 }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATA'],
      ['neither data nor binary', { inputs: [{ ...ok, data: undefined }] }, 400, 'SLUICE_E_PROTOCOL_BAD_DATA'],
      ['a zero batch', { inputs: [{ ...ok, shape: [0, 5], data: [] }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['a batch above max_batch_size', { inputs: [{ ...ok, shape: [257, 5], data: new Array(257 * 5).fill(0) }] }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
      ['an unknown output', { inputs: [ok], outputs: [{ name: 'logits' }] }, 400, 'SLUICE_E_PROTOCOL_BAD_OUTPUT'],
      ['an output without a name', { inputs: [ok], outputs: [{}] }, 400, 'SLUICE_E_PROTOCOL_BAD_OUTPUT'],
      ['a priority out of range', { inputs: [ok], parameters: { priority: 9 } }, 400, 'SLUICE_E_PROTOCOL_BAD_PARAMETER'],
      ['a negative timeout', { inputs: [ok], parameters: { timeout_us: -5 } }, 400, 'SLUICE_E_PROTOCOL_BAD_PARAMETER'],
      ['an id that is not a string', { id: 5, inputs: [ok] }, 400, 'SLUICE_E_HTTP_BAD_REQUEST'],
      ['binary_data_output that is not a boolean', { inputs: [ok], parameters: { binary_data_output: 'yes' } }, 400, 'SLUICE_E_PROTOCOL_BAD_PARAMETER'],
    ];
    for (const [what, body, status, code] of cases) {
      const res = await postJson(infer, body);
      t.equal(res.status, status, `${what}: status`);
      t.equal(res.body.code, code, `${what}: code`);
      t.type(res.body.error, 'string', `${what}: OIP error field`);
    }
    const rows = weatherRows(1, 1);
    const binaryCases: [string, ReturnType<typeof binaryRequest>][] = [
      ['binary_data_size that does not match the shape',
        binaryRequest({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], parameters: { binary_data_size: 16 } }] }, [rows.subarray(0, 4)])],
      ['binary_data_size past the end of the body',
        binaryRequest({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], parameters: { binary_data_size: 40 } }] }, [rows])],
      ['binary bytes left over',
        binaryRequest({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], parameters: { binary_data_size: 20 } }] }, [rows, new Uint8Array(3)])],
      ['a negative binary_data_size',
        binaryRequest({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], parameters: { binary_data_size: -1 } }] }, [rows])],
    ];
    for (const [what, req] of binaryCases) {
      const res = await fetch(infer, { method: 'POST', headers: req.headers, body: req.body });
      t.equal(res.status, 400, `${what}: status`);
      t.equal(((await res.json()) as { code: string }).code, 'SLUICE_E_PROTOCOL_BAD_BINARY', `${what}: code`);
    }
    const lying = await fetch(infer, { method: 'POST', headers: { 'Inference-Header-Content-Length': '999' }, body: JSON.stringify({ inputs: [ok] }) });
    t.equal(lying.status, 400);
    t.equal(((await lying.json()) as { code: string }).code, 'SLUICE_E_PROTOCOL_BAD_BINARY');
    for (const bad of ['1.5', '-3', 'abc', '0x10']) {
      const res = await fetch(infer, { method: 'POST', headers: { 'Inference-Header-Content-Length': bad }, body: JSON.stringify({ inputs: [ok] }) });
      t.equal(res.status, 400, `header length ${bad}`);
      t.equal(((await res.json()) as { code: string }).code, 'SLUICE_E_PROTOCOL_BAD_BINARY', `header length ${bad}`);
    }
  });

  t.test('a chunked body without content-length is read whole', async (t) => {
    const text = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 12, 4, 3, 40] }] });
    const chunks = [text.slice(0, 10), text.slice(10, 40), text.slice(40)].map((c) => new TextEncoder().encode(c));
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const res = await fetch(`${u}/v2/models/weather/infer`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    t.equal(res.status, 200);
    t.equal(((await res.json()) as { model_name: string }).model_name, 'weather');
  });

  t.test('a body over the limit is refused with 413', async (t) => {
    const res = await fetch(`${u}/v2/models/weather/infer`, { method: 'POST', body: new Uint8Array(9 * 1024 * 1024).fill(32) });
    t.equal(res.status, 413);
    t.equal(((await res.json()) as { code: string }).code, 'SLUICE_E_HTTP_BODY_TOO_LARGE');
    const after = await getJson(`${u}/v2/health/live`);
    t.equal(after.status, 200, 'the gateway still serves');
  });

  t.test('64 concurrent clients are batched, and each gets what an unbatched run gives it', async (t) => {
    // Batched GEMM kernels may round the last bits differently from a one-row run (measured: a few
    // float32 ulps of the logits), so probabilities are compared to 1e-6, labels exactly.
    const inputs = Array.from({ length: 64 }, (_, i) => weatherRows(1, 1000 + i));
    const call = (rows: Float32Array) => postJson(`${u}/v2/models/weather/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(rows) }] });
    const unbatched = [];
    for (const rows of inputs) unbatched.push(await call(rows)); // one at a time: batches of one
    const before = batchHistogram(await (await fetch(`${u}/metrics`)).text());
    const rounds = [];
    for (let r = 0; r < 5; r++) rounds.push(await Promise.all(inputs.map(call)));
    const after = batchHistogram(await (await fetch(`${u}/metrics`)).text());
    for (const round of rounds) {
      for (let i = 0; i < inputs.length; i++) {
        t.equal(round[i]!.status, 200);
        if (!sameAnswer(round[i]!.body.outputs, unbatched[i]!.body.outputs)) t.fail(`client ${i} got a different answer when batched`, { got: round[i]!.body.outputs, unbatched: unbatched[i]!.body.outputs });
      }
    }
    const batches = after.count - before.count;
    const rows = after.sum - before.sum;
    t.equal(rows, 5 * 64, 'every request ran exactly once');
    t.ok(batches < rows, `fewer batches (${batches}) than requests (${rows})`);
    t.ok(after.le1 - before.le1 < batches, 'some batches held more than one request');
  });

  t.test('metrics are Prometheus text with per-model-version series', async (t) => {
    const res = await fetch(`${u}/metrics`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /text\/plain/);
    const text = await res.text();
    for (const name of [
      'sluice_inference_requests_total{model="weather",version="1",outcome="success"}',
      'sluice_inference_requests_total{model="weather",version="1",outcome="client_error"}',
      'sluice_inference_request_duration_seconds_bucket{le="0.001",model="weather",version="1"}',
      'sluice_inference_queue_duration_seconds_count{model="weather",version="1"}',
      'sluice_inference_compute_duration_seconds_count{model="text-direction",version="1"}',
      'sluice_inference_queue_depth{model="weather",version="1"} 0',
      'sluice_inference_in_flight{model="weather",version="1"} 0',
      'sluice_request_decode_duration_seconds_count{protocol="binary"}',
      'sluice_request_decode_duration_seconds_count{protocol="json"}',
      'sluice_process_cpu_seconds_total',
    ]) {
      t.ok(text.includes(name), name);
    }
    t.notOk(/model="nope"/.test(text), 'unknown model names never become labels');
  });
});

type Outputs = { name: string; shape: number[]; data: number[] }[];

function sameAnswer(a: unknown, b: unknown): boolean {
  const x = a as Outputs;
  const y = b as Outputs;
  return x.length === y.length && x.every((o, i) => {
    const p = y[i]!;
    if (o.name !== p.name || o.shape.join() !== p.shape.join() || o.data.length !== p.data.length) return false;
    return o.name === 'label' ? o.data.join() === p.data.join() : o.data.every((v, k) => Math.abs(v - p.data[k]!) <= 1e-6);
  });
}

function batchHistogram(text: string): { count: number; sum: number; le1: number } {
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    count: value(/^sluice_inference_batch_size_count\{model="weather",version="1"\} (\d+)/m),
    sum: value(/^sluice_inference_batch_size_sum\{model="weather",version="1"\} (\d+)/m),
    le1: value(/^sluice_inference_batch_size_bucket\{le="1",model="weather",version="1"\} (\d+)/m),
  };
}

t.test('a full queue refuses at once with 503 and Retry-After, as does a queue standing past half a deadline; a deadline answers 504; a gone client is dropped', async (t) => {
  const models = copyModels(t, ['weather']);
  const configPath = join(models, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  // A long queue delay keeps requests queued while the test looks at them.
  config.dynamic_batching = { max_queue_delay_us: 1_500_000, max_queue_size: 2, adaptive_delay: false };
  writeFileSync(configPath, JSON.stringify(config));
  const gw = await startTestGateway(t, models);
  const infer = `${gw.url}/v2/models/weather/infer`;
  const body = (params: Record<string, unknown> = {}) => JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }], parameters: params });

  const depth = async (n: number) => (await (await fetch(`${gw.url}/metrics`)).text()).includes(`sluice_inference_queue_depth{model="weather",version="1"} ${n}`);
  const gone = new AbortController();
  const abandoned = fetch(infer, { method: 'POST', body: body(), signal: gone.signal }).catch(() => 'aborted');
  const kept = fetch(infer, { method: 'POST', body: body() });
  await waitFor(() => depth(2));
  const refused = await fetch(infer, { method: 'POST', body: body() });
  t.equal(refused.status, 503);
  t.equal(refused.headers.get('retry-after'), '1');
  t.equal(((await refused.json()) as { code: string }).code, 'SLUICE_E_BATCH_QUEUE_FULL');
  gone.abort();
  t.equal(await abandoned, 'aborted');
  await waitFor(() => depth(1));
  // The queue has stood since `kept` arrived, far more than half of a 2 ms deadline.
  const hurried = await fetch(infer, { method: 'POST', body: body({ timeout_us: 2000 }) });
  t.equal(hurried.status, 503);
  t.equal(hurried.headers.get('retry-after'), '1');
  t.equal(((await hurried.json()) as { code: string }).code, 'SLUICE_E_BATCH_QUEUE_LATE');
  const ran = await kept;
  t.equal(ran.status, 200);
  // An empty queue admits a 1 ms deadline; the 1.5 s batch delay then outlasts it.
  const late = await fetch(infer, { method: 'POST', body: body({ timeout_us: 1000 }) });
  t.equal(late.status, 504);
  t.equal(((await late.json()) as { code: string }).code, 'SLUICE_E_BATCH_TIMEOUT');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_inference_requests_total\{model="weather",version="1",outcome="cancelled"\} 1/);
  t.match(metrics, /sluice_inference_requests_total\{model="weather",version="1",outcome="timeout"\} 1/);
  t.match(metrics, /sluice_inference_requests_total\{model="weather",version="1",outcome="rejected"\} 2/);
  t.match(metrics, /sluice_inference_batch_size_sum\{model="weather",version="1"\} 1\n/, 'only the one live request ran');
  const [w, ...rest] = gw.inference.traffic.take();
  t.same(rest, []);
  t.match(w, { version: 1, calls: 2, errors: 1, refused: 2 }, 'the traffic window counts the deadline passed as the version\'s error, the two refusals apart, the cancel not at all');
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
