// Every response body the gateway's HTTP routes give, checked against the Open Inference
// Protocol's REST schemas (oip-schemas.ts), over one keep-alive connection: a HEAD answer that
// carried a body would break the next response on it.
import http from 'node:http';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { copyModels, startTestGateway, weatherRows } from '../gateway-harness.js';
import { validate, type SchemaName } from './oip-schemas.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(agent: http.Agent, url: string, method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function json(r: Reply): unknown {
  return JSON.parse(r.body.toString('utf8'));
}

t.test('HTTP answers conform to the Open Inference Protocol', async (t) => {
  const models = copyModels(t, ['weather', 'text-direction']);
  const configPath = join(models, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  config.parameters = { owner: 'forecasting', threshold: 0.5, calibrated: true, labels: ['drizzle', 'rain'], source: { dataset: 'seattle' } };
  writeFileSync(configPath, JSON.stringify(config));
  const gw = await startTestGateway(t, models);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const call = (method: string, path: string, body?: Uint8Array | string, headers?: Record<string, string>): Promise<Reply> =>
    request(agent, gw.url, method, path, body, headers);
  const conforms = (t: Test, schema: SchemaName, r: Reply, what: string): void => {
    t.same(validate(schema, json(r)), [], `${what}: ${schema}`);
  };

  t.test('GET routes answer their schema; HEAD answers the same status and headers with no body', async (t) => {
    const routes: [string, number, SchemaName][] = [
      ['/v2', 200, 'serverMetadata'],
      ['/v2/', 200, 'serverMetadata'],
      ['/v2/health/live', 200, 'serverLive'],
      ['/v2/health/ready', 200, 'serverReady'],
      ['/v2/models/weather', 200, 'modelMetadata'],
      ['/v2/models/weather/versions/1', 200, 'modelMetadata'],
      ['/v2/models/text-direction', 200, 'modelMetadata'],
      ['/v2/models/weather/ready', 200, 'modelReady'],
      ['/v2/models/weather/versions/1/ready', 200, 'modelReady'],
      ['/v2/models/nope', 404, 'error'],
      ['/v2/models/weather/versions/9', 404, 'error'],
      ['/v2/models/nope/ready', 404, 'error'],
      ['/v2/nothing/here', 404, 'error'],
    ];
    for (const [path, status, schema] of routes) {
      const get = await call('GET', path);
      t.equal(get.status, status, `GET ${path}`);
      conforms(t, schema, get, `GET ${path}`);
      const head = await call('HEAD', path);
      t.equal(head.status, status, `HEAD ${path}`);
      t.equal(head.body.byteLength, 0, `HEAD ${path}: no body`);
      t.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${path}: content-type`);
      t.equal(head.headers['content-length'], String(get.body.byteLength), `HEAD ${path}: the GET body's length`);
    }
  });

  t.test('a wrong method gets 405 with Allow, and no body on HEAD', async (t) => {
    const cases: [string, string, string][] = [
      ['POST', '/v2/health/live', 'GET, HEAD'],
      ['DELETE', '/v2/models/weather', 'GET, HEAD'],
      ['GET', '/v2/models/weather/infer', 'POST'],
      ['PUT', '/v2/repository/index', 'POST'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await call(method, path);
      t.equal(r.status, 405, `${method} ${path}`);
      t.equal(r.headers.allow, allow, `${method} ${path}: Allow`);
      conforms(t, 'error', r, `${method} ${path}`);
      t.equal((json(r) as { code: string }).code, 'SLUICE_E_HTTP_METHOD_NOT_ALLOWED');
    }
    const head = await call('HEAD', '/v2/models/weather/infer');
    t.equal(head.status, 405);
    t.equal(head.headers.allow, 'POST');
    t.equal(head.body.byteLength, 0);
    t.equal((await call('GET', '/v2/health/live')).status, 200, 'the connection still serves');
  });

  t.test('model metadata parameters hold only strings, numbers and booleans', async (t) => {
    const meta = json(await call('GET', '/v2/models/weather')) as { parameters: Record<string, unknown> };
    t.match(meta.parameters, { owner: 'forecasting', threshold: 0.5, calibrated: true, version: '1', max_batch_size: 256 });
    t.same(JSON.parse(meta.parameters.labels as string), ['drizzle', 'rain'], 'an array is given as its JSON text');
    t.same(JSON.parse(meta.parameters.source as string), { dataset: 'seattle' });
  });

  const rows = weatherRows(2, 3);
  const features = { name: 'features', datatype: 'FP32', shape: [2, 5], data: Array.from(rows) };

  t.test('inference answers conform, and "outputs": [] returns every output', async (t) => {
    const all = await call('POST', '/v2/models/weather/infer', JSON.stringify({ id: 'a', inputs: [features] }));
    t.equal(all.status, 200);
    conforms(t, 'inferenceResponse', all, 'JSON call');
    const empty = await call('POST', '/v2/models/weather/infer', JSON.stringify({ id: 'a', inputs: [features], outputs: [] }));
    t.equal(empty.status, 200);
    conforms(t, 'inferenceResponse', empty, 'outputs: []');
    t.same(json(empty), json(all), 'the same answer as no outputs list');
    const one = json(await call('POST', '/v2/models/weather/infer', JSON.stringify({ inputs: [features], outputs: [{ name: 'label' }] }))) as { outputs: { name: string }[] };
    t.same(one.outputs.map((o) => o.name), ['label'], 'a non-empty list still selects');
  });

  t.test('a binary answer\'s JSON header conforms', async (t) => {
    const r = await call('POST', '/v2/models/weather/infer', JSON.stringify({ inputs: [features], parameters: { binary_data_output: true } }));
    t.equal(r.status, 200);
    const headerLength = Number(r.headers['inference-header-content-length']);
    t.same(validate('inferenceResponse', JSON.parse(r.body.subarray(0, headerLength).toString('utf8'))), []);
  });

  t.test('a raw binary request (Inference-Header-Content-Length: 0) runs the single input', async (t) => {
    const raw = await call('POST', '/v2/models/weather/infer', new Uint8Array(rows.buffer), { 'Inference-Header-Content-Length': '0' });
    t.equal(raw.status, 200);
    conforms(t, 'inferenceResponse', raw, 'raw binary call');
    const viaJson = json(await call('POST', '/v2/models/weather/infer', JSON.stringify({ inputs: [features] }))) as { outputs: unknown[] };
    t.same((json(raw) as { outputs: unknown[] }).outputs, viaJson.outputs, 'the same outputs as the JSON call');
    const torn = await call('POST', '/v2/models/weather/infer', new Uint8Array(rows.buffer, 0, 18), { 'Inference-Header-Content-Length': '0' });
    t.equal(torn.status, 400);
    conforms(t, 'error', torn, 'a torn raw body');
    t.equal((json(torn) as { code: string }).code, 'SLUICE_E_PROTOCOL_BAD_BINARY');
  });

  t.test('non-finite outputs are JSON strings, valid tensor data', async (t) => {
    const r = await call('POST', '/v2/models/weather/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: ['NaN', 1, 2, 3, 4] }] }));
    t.equal(r.status, 200);
    conforms(t, 'inferenceResponse', r, 'NaN in, NaN out');
    const probabilities = (json(r) as { outputs: { name: string; data: unknown[] }[] }).outputs.find((o) => o.name === 'probabilities')!;
    t.ok(probabilities.data.includes('NaN'), 'NaN is written "NaN"');
  });

  t.test('error answers conform and carry a code', async (t) => {
    const bad: [string, string][] = [
      ['{"inputs": [', 'SLUICE_E_HTTP_BAD_JSON'],
      [JSON.stringify({ inputs: [{ ...features, datatype: 'FP64' }] }), 'SLUICE_E_PROTOCOL_BAD_DATATYPE'],
      [JSON.stringify({ inputs: [features], outputs: [{ name: 'nope' }] }), 'SLUICE_E_PROTOCOL_BAD_OUTPUT'],
    ];
    for (const [body, code] of bad) {
      const r = await call('POST', '/v2/models/weather/infer', body);
      t.equal(r.status, 400, code);
      conforms(t, 'error', r, code);
      t.equal((json(r) as { code: string }).code, code);
    }
  });
});
