// Gateway access control on a real gateway (uWS on 127.0.0.1, real ORT): tokens from a token file
// with scopes and rate limits, browser origins, the WebSocket upgrade, the repository API, the
// open --metrics-port listener, and the refusal to serve a non-loopback address without a token
// source. Before issue 17 every one of these routes answered anyone.
import t from 'tap';
import { connect } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { readTokenFile } from '../../../gateway/access/token-file.js';
import { copyModels, startTestGateway } from '../gateway-harness.js';
import { isSluiceError } from '../../../lib/errors.js';
import type { GatewayAccessOptions } from '../../../gateway/access/access-policy.js';

const WEATHER_CALL = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] });
const TOKENS = {
  all: 'tok-all-0123456789abcdef',
  weather: 'tok-weather-0123456789ab',
  other: 'tok-other-0123456789abcd',
  metrics: 'tok-metrics-0123456789ab',
  repo: 'tok-repo-0123456789abcdef',
  slow: 'tok-slow-0123456789abcdef',
};
const ORIGIN = 'https://app.example.com';

function tokenFile(dir: string): string {
  const path = join(dir, 'tokens');
  writeFileSync(path, [
    '# caller tokens for the test gateway',
    `${TOKENS.all} infer:*,metrics name=all`,
    `${TOKENS.weather} infer:weather`,
    `${TOKENS.other} infer:text-direction`,
    `${TOKENS.metrics} metrics`,
    `sha256:${'0'.repeat(63)}1 repository   # a hash only: no secret on disk`,
    `${TOKENS.repo} repository,infer:*`,
    `${TOKENS.slow} infer:* rate=0.01:2`,
  ].join('\n'));
  return path;
}

async function call(url: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; code: string | undefined; headers: Headers; text: string }> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`);
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code, headers: res.headers, text };
}

/** Send only the head of a POST that declares a large body, and read what comes back before any body byte. */
function headOnly(port: number, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n') && /content-length: (\d+)/i.test(got)) {
        const length = Number(/content-length: (\d+)/i.exec(got)![1]);
        if (got.length >= got.indexOf('\r\n\r\n') + 4 + length) {
          socket.destroy();
          resolve(got);
        }
      }
    });
    socket.on('error', reject);
    const lines = Object.entries({ host: 'x', 'content-length': String(64 * 1024 * 1024), ...headers }).map(([k, v]) => `${k}: ${v}`);
    socket.write(`POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
  });
}

t.test('a gateway with a token file checks tokens, scopes, origins and rate limits on every route but health', async (t) => {
  const models = copyModels(t, ['weather']);
  const tokens = readTokenFile(tokenFile(join(models, '..')));  // t.testdir() would wipe the models
  t.equal(tokens.length, 7);
  const gw = await startTestGateway(t, models, { workerThreads: 1, metricsPort: 0, access: { tokens, corsOrigins: [ORIGIN] } });
  t.ok(gw.access.required, 'a token file turns auth on even on loopback');
  const infer = `${gw.url}/v2/models/weather/infer`;

  t.test('health is open', async (t) => {
    t.equal((await call(`${gw.url}/v2/health/live`)).status, 200);
    t.equal((await call(`${gw.url}/v2/health/ready`)).status, 200);
  });

  t.test('no token, or an unknown one, gets 401 with WWW-Authenticate', async (t) => {
    const missing = await call(infer, { method: 'POST', body: WEATHER_CALL });
    t.equal(missing.status, 401);
    t.equal(missing.code, 'SLUICE_E_AUTH_MISSING');
    t.equal(missing.headers.get('www-authenticate'), 'Bearer');
    const unknown = await call(infer, { method: 'POST', body: WEATHER_CALL, token: 'tok-nobody-0123456789abcd' });
    t.equal(unknown.code, 'SLUICE_E_AUTH_INVALID');
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, headers: { authorization: 'Basic Zm9vOmJhcg==' } })).code, 'SLUICE_E_AUTH_INVALID');
    for (const path of ['/v2', '/v2/models/weather', '/v2/models/weather/ready', '/v2/models/weather/feedback', '/metrics', '/v2/models/weather/drift']) {
      t.equal((await call(`${gw.url}${path}`)).code, 'SLUICE_E_AUTH_MISSING', `GET ${path} needs a token`);
    }
  });

  t.test('a refusal is answered before any byte of the declared body arrives', async (t) => {
    const answer = await headOnly(gw.port, '/v2/models/weather/infer', { 'content-type': 'application/json' });
    t.match(answer, /^HTTP\/1\.1 401/);
    t.match(answer, /SLUICE_E_AUTH_MISSING/);
  });

  t.test('scopes: infer on the named model only, metrics and drift for metrics', async (t) => {
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.weather })).status, 200, 'infer:weather calls weather');
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.all })).status, 200, 'infer:* calls weather');
    const other = await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.other });
    t.equal(other.status, 403);
    t.equal(other.code, 'SLUICE_E_GATEWAY_SCOPE');
    t.equal((await call(`${gw.url}/v2/models/weather`, { token: TOKENS.other })).code, 'SLUICE_E_GATEWAY_SCOPE', 'metadata of another model');
    t.equal((await call(`${gw.url}/v2/models/weather/ready`, { token: TOKENS.weather })).status, 200);
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.metrics })).code, 'SLUICE_E_GATEWAY_SCOPE');
    t.equal((await call(`${gw.url}/metrics`, { token: TOKENS.weather })).code, 'SLUICE_E_GATEWAY_SCOPE');
    t.equal((await call(`${gw.url}/v2/models/weather/drift`, { token: TOKENS.weather })).code, 'SLUICE_E_GATEWAY_SCOPE', 'the drift report is not an infer route');
    t.equal((await call(`${gw.url}/metrics`, { token: TOKENS.metrics })).status, 200);
    t.equal((await call(`${gw.url}/v2/models/weather/drift`, { token: TOKENS.metrics })).status, 200);
  });

  t.test('the repository API needs the repository scope', async (t) => {
    const unload = `${gw.url}/v2/repository/models/weather/unload`;
    t.equal((await call(unload, { method: 'POST' })).code, 'SLUICE_E_AUTH_MISSING', 'the unauthenticated unload of issue 17 is refused');
    t.equal((await call(unload, { method: 'POST', token: TOKENS.all })).code, 'SLUICE_E_GATEWAY_SCOPE');
    const index = await call(`${gw.url}/v2/repository/index`, { method: 'POST', token: TOKENS.repo });
    t.equal(index.status, 200);
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.repo })).status, 200, 'weather still serves');
  });

  t.test('browser origins: preflight, allowed origin echoed, a cross-site simple POST refused', async (t) => {
    const pre = await call(infer, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    t.equal(pre.status, 204);
    t.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
    t.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const evilPre = await call(infer, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    t.equal(evilPre.status, 403);
    t.equal(evilPre.code, 'SLUICE_E_GATEWAY_ORIGIN');
    t.equal(evilPre.headers.get('access-control-allow-origin'), null);

    // A form or fetch with text/plain needs no preflight: the Origin header is what is checked.
    const simple = await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.all, headers: { origin: 'https://evil.example', 'content-type': 'text/plain' } });
    t.equal(simple.status, 403, 'even with a valid token (a browser may attach credentials)');
    t.equal(simple.code, 'SLUICE_E_GATEWAY_ORIGIN');
    t.equal((await call(`${gw.url}/v2/repository/index`, { method: 'POST', headers: { origin: 'null', 'content-type': 'text/plain' }, token: TOKENS.repo })).code, 'SLUICE_E_GATEWAY_ORIGIN', 'a sandboxed page (Origin: null) too');
    const allowed = await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.all, headers: { origin: ORIGIN } });
    t.equal(allowed.status, 200);
    t.equal(allowed.headers.get('access-control-allow-origin'), ORIGIN);
    t.equal(allowed.headers.get('vary'), 'Origin');
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, headers: { origin: ORIGIN } })).code, 'SLUICE_E_AUTH_MISSING', 'an allowed origin still needs a token');
  });

  t.test('a token over its rate limit gets 429 with Retry-After, before its body is read', async (t) => {
    // rate=0.01:2 — two calls at once, then one per 100 s.
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.slow })).status, 200);
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.slow })).status, 200);
    const over = await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.slow });
    t.equal(over.status, 429);
    t.equal(over.code, 'SLUICE_E_GATEWAY_RATE_LIMITED');
    t.ok(Number(over.headers.get('retry-after')) >= 1, `Retry-After ${over.headers.get('retry-after')}`);
    const early = await headOnly(gw.port, '/v2/models/weather/infer', { authorization: `Bearer ${TOKENS.slow}` });
    t.match(early, /^HTTP\/1\.1 429/);
    t.match(early, /retry-after: \d+/i);
    t.equal((await call(infer, { method: 'POST', body: WEATHER_CALL, token: TOKENS.all })).status, 200, 'other tokens are not limited by it');
  });

  t.test('/metrics on its own port needs no token; the main port still does', async (t) => {
    t.ok(gw.metricsUrl);
    const open = await call(gw.metricsUrl!);
    t.equal(open.status, 200);
    t.match(open.text, /sluice_/);
    t.equal((await call(gw.metricsUrl!.replace('/metrics', '/v2/models/weather'))).status, 404, 'only /metrics there');
    t.equal((await call(`${gw.url}/metrics`)).code, 'SLUICE_E_AUTH_MISSING');
  });

  t.test('the WebSocket upgrade checks Origin and the token (header or subprotocol); calls check the scope', async (t) => {
    const ws = `${gw.url.replace('http', 'ws')}/v2/ws`;
    const refused = (socket: WebSocket): Promise<number> =>
      new Promise((resolve, reject) => {
        socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        socket.on('open', () => reject(new Error('the upgrade was accepted')));
        socket.on('error', () => undefined);
      });
    t.equal(await refused(new WebSocket(ws)), 401, 'no token');
    t.equal(await refused(new WebSocket(ws, { headers: { authorization: 'Bearer tok-nobody-0123456789abcd' } })), 401, 'unknown token');
    t.equal(await refused(new WebSocket(ws, { headers: { authorization: `Bearer ${TOKENS.all}` }, origin: 'https://evil.example' })), 403, 'bad origin');
    t.equal(await refused(new WebSocket(ws, { headers: { authorization: `Bearer ${TOKENS.metrics}` } })), 403, 'no infer scope');

    // A browser cannot set Authorization: the token rides in a subprotocol entry, never echoed back.
    const socket = new WebSocket(ws, ['sluice.v2', `sluice.bearer.${TOKENS.weather}`], { origin: ORIGIN });
    await new Promise<void>((resolve, reject) => {
      socket.on('open', () => resolve());
      socket.on('error', reject);
    });
    t.equal(socket.protocol, 'sluice.v2', 'the chosen protocol, without the token');
    const answers: Record<string, unknown>[] = [];
    socket.on('message', (data) => answers.push(JSON.parse(data.toString()) as Record<string, unknown>));
    const frame = (id: string, model: string) => JSON.stringify({ id, model_name: model, inputs: JSON.parse(WEATHER_CALL).inputs });
    socket.send(frame('a', 'weather'));
    socket.send(frame('b', 'text-direction'));
    while (answers.length < 2) await new Promise((r) => setTimeout(r, 20));
    socket.close();
    const byId = Object.fromEntries(answers.map((a) => [a.id, a]));
    t.ok(byId.a!.outputs, 'weather answered');
    t.equal(byId.b!.code, 'SLUICE_E_GATEWAY_SCOPE', 'a call on a model outside the scope is refused');
  });
});

t.test('a gateway refuses to serve a non-loopback address without a token source, and says why', async (t) => {
  const empty = join(t.testdir(), 'empty');
  mkdirSync(empty);
  const start = (access: GatewayAccessOptions) => startTestGateway(t, empty, { host: '0.0.0.0', workerThreads: 1, access });
  for (const [label, access] of [['auto', {}], ['off', { auth: 'off' as const }]] as const) {
    const err = await start(access).then(() => undefined, (e: unknown) => e);
    t.ok(isSluiceError(err), `auth ${label}`);
    t.equal((err as { code?: string }).code, 'SLUICE_E_GATEWAY_INSECURE', `auth ${label}: refused`);
  }
  const onWithout = await startTestGateway(t, empty, { workerThreads: 1, access: { auth: 'on' } }).then(() => undefined, (e: unknown) => e);
  t.equal((onWithout as { code?: string }).code, 'SLUICE_E_GATEWAY_INSECURE', 'auth on without a token source is refused even on loopback');

  const open = await start({ insecure: true });
  t.notOk(open.access.required, '--insecure serves it open');
  t.equal((await call(`http://127.0.0.1:${open.port}/v2`)).status, 200);
  await open.close();

  const local = await startTestGateway(t, empty, { workerThreads: 1 });
  t.notOk(local.access.required, 'loopback without a token file stays open (local use)');
  t.equal((await call(`${local.url}/v2/repository/index`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'text/plain' } })).code, 'SLUICE_E_GATEWAY_ORIGIN', 'but no web page may call it');

  const off = await startTestGateway(t, empty, { workerThreads: 1, access: { repositoryApi: 'off' } });
  t.equal((await call(`${off.url}/v2/repository/index`, { method: 'POST' })).code, 'SLUICE_E_GATEWAY_REPOSITORY_OFF');
});

t.test('token files: bad lines are refused with the line number', async (t) => {
  const bad = join(t.testdir(), 'bad');
  for (const line of ['short infer:*', 'tok-0123456789abcdef0', 'tok-0123456789abcdef0 infer:*,admin', 'tok-0123456789abcdef0 metrics rate=fast', 'tok-0123456789abcdef0 metrics colour=blue']) {
    writeFileSync(bad, `# ok\n${line}\n`);
    const err = (() => {
      try {
        readTokenFile(bad);
        return undefined;
      } catch (e) {
        return e as { code?: string; details?: { line?: number } };
      }
    })();
    t.equal(err?.code, 'SLUICE_E_GATEWAY_TOKEN_FILE', line);
    t.equal(err?.details?.line, 2);
  }
  t.equal((() => {
    try {
      readTokenFile(join(t.testdir(), 'missing'));
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  })(), 'SLUICE_E_CONFIG_FILE_MISSING');
});
