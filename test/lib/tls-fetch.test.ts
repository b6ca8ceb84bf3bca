// The control-plane clients' fetch, in a process that has loaded it (and with it the undici
// package, a newer major version than the one inside Node 20's fetch): requests that set their own
// content-length, multipart bodies, and Node's global fetch all still reach the server whole.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { FormData, tlsFetch } from '../../lib/tls-fetch.js';
import { makeTestCerts } from '../helpers/certs.js';

const certs = makeTestCerts();
t.teardown(() => certs.remove());

interface Received {
  contentType: string | undefined;
  contentLength: string | undefined;
  body: string;
}

/** Answers every request with what it received, as JSON. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const received: Received = { contentType: req.headers['content-type'], contentLength: req.headers['content-length'], body: Buffer.concat(chunks).toString('latin1') };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(received));
  });
}

async function listen(t: Test, server: Server, scheme: 'http' | 'https'): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `${scheme}://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

const BODY = '{"query":"{ me { name } }"}';
const SIZED = { method: 'POST', body: BODY, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(BODY)) } };

t.test('a POST that sets its own content-length arrives whole', async (t) => {
  const http = await listen(t, createHttpServer(echo), 'http');
  const https = await listen(t, createHttpsServer({ cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) }, echo), 'https');
  const cases: [string, () => Promise<{ status: number; json(): Promise<unknown> }>][] = [
    ["through Node's global fetch", () => fetch(http, SIZED)],
    ['through tlsFetch without TLS files', () => tlsFetch(undefined)(http, SIZED)],
    ['through tlsFetch trusting a CA', () => tlsFetch({ caFile: certs.ca })(https, SIZED)],
  ];
  for (const [name, send] of cases) {
    const res = await send();
    t.equal(res.status, 200, name);
    t.same(await res.json(), { contentType: 'application/json', contentLength: String(BODY.length), body: BODY }, name);
  }
});

t.test('a multipart body built with the FormData it exports arrives as multipart/form-data', async (t) => {
  const https = await listen(t, createHttpsServer({ cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) }, echo), 'https');
  const form = new FormData();
  form.set('operations', '{"query":"mutation { x }"}');
  form.set('0', new Blob(['model bytes']), 'model.onnx');
  const res = await tlsFetch({ caFile: certs.ca })(https, { method: 'POST', body: form });
  const got = (await res.json()) as Received;
  t.match(got.contentType, /^multipart\/form-data; boundary=/);
  t.match(got.body, /name="operations"\r\n\r\n\{"query":"mutation \{ x \}"\}\r\n/);
  t.match(got.body, /name="0"; filename="model.onnx"\r\nContent-Type: application\/octet-stream\r\n\r\nmodel bytes\r\n/);
});
