// --io-threads on real gateways (uWS on 127.0.0.1, real ORT, real worker threads): every route
// answers through two I/O threads exactly as it does on the main thread, WebSocket calls too, and
// calls spread over the threads. Failure, flags and SIGTERM: io-threads-failure.test.ts.
import t from 'tap';
import { request as httpRequest, Agent } from 'node:http';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { readTokenFile } from '../../../gateway/access/token-file.js';
import { binaryRequest, copyModels, randomFloats, startTestGateway, weatherRows } from '../gateway-harness.js';

const TOKEN = 'tok-io-0123456789abcdef';
const SLOW = 'tok-io-slow-0123456789ab';
const WEATHER = (rows: number[]) => JSON.stringify({ inputs: [{ name: 'features', shape: [rows.length / 5, 5], datatype: 'FP32', data: rows }] });

interface Call {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  token?: string | null;
}

interface Answer {
  status: number;
  code: string | undefined;
  headers: Record<string, string | null>;
  body: unknown;
}

const COMPARED_HEADERS = ['content-type', 'retry-after', 'allow', 'www-authenticate', 'inference-header-content-length', 'access-control-allow-origin', 'content-length'];

async function answer(base: string, c: Call): Promise<Answer> {
  const headers = new Headers(c.headers);
  if (c.token !== null) headers.set('authorization', `Bearer ${c.token ?? TOKEN}`);
  const res = await fetch(`${base}${c.path}`, { method: c.method, headers, ...(c.body !== undefined ? { body: c.body } : {}) });
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: unknown = bytes.toString('base64');
  let code: string | undefined;
  const headerLength = res.headers.get('inference-header-content-length');
  if (headerLength !== null) {
    const header = JSON.parse(bytes.subarray(0, Number(headerLength)).toString('utf8')) as { id?: string };
    delete header.id;
    body = { header, binary: bytes.subarray(Number(headerLength)).toString('base64') };
  }
  if ((res.headers.get('content-type') ?? '').includes('json') && bytes.byteLength > 0) {
    body = JSON.parse(bytes.toString('utf8')) as unknown;
    code = (body as { code?: string }).code;
    // An answer's id is drawn at random per call (kept for feedback): the rest must match.
    delete (body as { id?: string }).id;
  }
  // Prometheus text changes between scrapes: its status and type are what must match.
  const scrape = c.path === '/metrics' && res.status === 200;
  if (scrape) body = undefined;
  const compared = Object.fromEntries(COMPARED_HEADERS.filter((h) => !(scrape && h === 'content-length')).map((h) => [h, res.headers.get(h)]));
  return { status: res.status, code, headers: compared, body };
}

t.test('every route answers through 2 I/O threads as on the main thread', async (t) => {
  const models = copyModels(t, ['weather', 'text-direction']);
  // copyModels took this test's folder (a second t.testdir() would empty it).
  const tokens = join(dirname(models), 'tokens');
  writeFileSync(tokens, `${TOKEN} infer:*,metrics,repository\n${SLOW} infer:* rate=0.01:1\n`);
  const access = { tokens: readTokenFile(tokens), corsOrigins: ['https://app.example.com'] };
  const one = await startTestGateway(t, models, { ioThreads: 1, access, maxBodyBytes: 256 * 1024 });
  const two = await startTestGateway(t, models, { ioThreads: 2, access, maxBodyBytes: 256 * 1024 });

  const image = randomFloats(3 * 48 * 192, 7);
  const bin = binaryRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], parameters: { binary_data_size: image.byteLength } }], outputs: [{ name: 'softmax_0.tmp_0', parameters: { binary_data: true } }] }, [image]);
  const rows = [...weatherRows(3, 11)];
  const calls: [Call, number, string?][] = [
    [{ method: 'GET', path: '/v2' }, 200],
    [{ method: 'GET', path: '/v2/' }, 200],
    [{ method: 'HEAD', path: '/v2' }, 200],
    [{ method: 'GET', path: '/v2/health/live', token: null }, 200],
    [{ method: 'GET', path: '/v2/health/ready', token: null }, 200],
    [{ method: 'GET', path: '/v2/models/weather' }, 200],
    [{ method: 'GET', path: '/v2/models/weather/versions/1' }, 200],
    [{ method: 'GET', path: '/v2/models/weather/ready' }, 200],
    [{ method: 'GET', path: '/v2/models/nope' }, 404, 'SLUICE_E_MODEL_NOT_FOUND'],
    [{ method: 'GET', path: '/v2/models/weather/versions/7' }, 404, 'SLUICE_E_MODEL_VERSION_NOT_FOUND'],
    [{ method: 'GET', path: '/v2/models/weather/infer' }, 405, 'SLUICE_E_HTTP_METHOD_NOT_ALLOWED'],
    [{ method: 'GET', path: '/no/such/route' }, 404, 'SLUICE_E_HTTP_NOT_FOUND'],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: WEATHER(rows) }, 200],
    [{ method: 'POST', path: '/v2/models/weather/versions/1/infer', body: WEATHER(rows.slice(0, 5)) }, 200],
    [{ method: 'POST', path: '/v2/models/text-direction/infer', headers: bin.headers, body: bin.body }, 200],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: '{"inputs": [' }, 400, 'SLUICE_E_HTTP_BAD_JSON'],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }) }, 400, 'SLUICE_E_PROTOCOL_BAD_SHAPE'],
    [{ method: 'POST', path: '/v2/models/text-direction/infer', headers: { 'Inference-Header-Content-Length': 'x1' }, body: 'abc' }, 400, 'SLUICE_E_PROTOCOL_BAD_BINARY'],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: 'x'.repeat(300 * 1024) }, 413, 'SLUICE_E_HTTP_BODY_TOO_LARGE'],
    [{ method: 'POST', path: '/v2/models/nope/infer', body: WEATHER(rows) }, 404, 'SLUICE_E_MODEL_NOT_FOUND'],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: WEATHER(rows), token: null }, 401, 'SLUICE_E_AUTH_MISSING'],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: WEATHER(rows), token: 'tok-nobody-0123456789abc' }, 401, 'SLUICE_E_AUTH_INVALID'],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: WEATHER(rows), token: SLOW }, 200],
    [{ method: 'POST', path: '/v2/models/weather/infer', body: WEATHER(rows), token: SLOW }, 429, 'SLUICE_E_GATEWAY_RATE_LIMITED'],
    [{ method: 'OPTIONS', path: '/v2/models/weather/infer', token: null, headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } }, 204],
    [{ method: 'POST', path: '/v2/repository/index', body: '{}' }, 200],
    [{ method: 'GET', path: '/metrics' }, 200],
  ];
  for (const [c, status, code] of calls) {
    const a = await answer(one.url, c);
    const b = await answer(two.url, c);
    const what = `${c.method} ${c.path}${code ? ` (${code})` : ''}`;
    t.equal(a.status, status, `${what}: status on the main thread`);
    t.equal(a.code, code, `${what}: code on the main thread`);
    // The binary header's length includes the answer's random id; its length may differ by nothing else.
    if (a.headers['inference-header-content-length'] !== null) {
      for (const h of ['inference-header-content-length', 'content-length']) a.headers[h] = b.headers[h] = 'any';
    }
    t.same(b, a, `${what}: the same answer through the I/O threads`);
  }
});

t.test('WebSocket calls run through an I/O thread, refusals included', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models, { ioThreads: 2 });
  const ws = gw.url.replace('http', 'ws') + '/v2/ws';
  const socket = new WebSocket(ws);
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => resolve());
    socket.on('error', reject);
  });
  const answers: Record<string, unknown>[] = [];
  socket.on('message', (data) => answers.push(JSON.parse(data.toString()) as Record<string, unknown>));
  const rows = [...weatherRows(2, 3)];
  for (let i = 0; i < 20; i++) socket.send(JSON.stringify({ id: `c${i}`, model_name: 'weather', inputs: [{ name: 'features', shape: [2, 5], datatype: 'FP32', data: rows }] }));
  socket.send(JSON.stringify({ id: 'bad', model_name: 'nope', inputs: [{ name: 'features', shape: [2, 5], datatype: 'FP32', data: rows }] }));
  while (answers.length < 21) await new Promise((r) => setTimeout(r, 10));
  const byId: Record<string, Record<string, unknown>> = Object.fromEntries(answers.map((a) => [a.id, a]));
  t.equal(Object.values(byId).filter((a) => Array.isArray(a.outputs)).length, 20, 'every call answered with outputs');
  t.equal(byId.bad!.code, 'SLUICE_E_MODEL_NOT_FOUND');
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.close(1000);
  t.equal(await closed, 1000);
});

t.test('calls spread over the threads, each counted under its thread', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models, { ioThreads: 2 });
  // A new connection per call: the kernel spreads connections (not calls) over the listeners.
  const agent = new Agent({ keepAlive: false });
  const body = WEATHER([...weatherRows(1, 5)]);
  for (let i = 0; i < 40; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/v2/models/weather/infer`, { method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
    t.equal(status, 200);
  }
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  const counted = [0, 1].map((i) => Number(new RegExp(`sluice_io_thread_calls_total\\{thread="${i}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0));
  // 40 connections hashed over 2 listeners: all on one would happen once in 2^39 runs.
  t.ok(counted[0]! > 0 && counted[1]! > 0, `both threads served calls (${counted.join(', ')})`);
  t.ok(counted[0]! + counted[1]! >= 40, 'every call counted');
  t.match(metrics, /sluice_io_thread_busy_seconds_total\{thread="1"\} \d/);
});
