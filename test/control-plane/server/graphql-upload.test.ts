// Multipart uploads (issue 17): the caller is checked from the headers before any body byte is
// read, and an authorised upload streams into the artifact store instead of being held in memory.
import t from 'tap';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { request } from 'node:http';
import { mkdtempSync, openAsBlob, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestControlPlane, exampleOnnx, ADMIN_TOKEN } from '../harness.js';
import { startSluice } from '../../helpers/cli.js';

const GIB = 1024 * 1024 * 1024;
const BOUNDARY = 'sluice-test-boundary';

/** Send only the headers of a multipart POST declaring `length` bytes; resolve with the raw answer once the server closes. */
function headersOnly(url: string, length: number, headers: Record<string, string>): Promise<{ status: number; body: string; closedByServer: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let raw = '';
    socket.on('data', (c) => (raw += c.toString()));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head, body = ''] = raw.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head ?? '')?.[1]), body, closedByServer: true });
      socket.destroy();
    });
    const lines = [
      'POST /graphql HTTP/1.1',
      `Host: ${hostname}:${port}`,
      `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
      `Content-Length: ${length}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

t.test('uploads on one control plane', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const viewer = await cp.token('viewer');

  t.test('an upload declaring 1 GiB without a token is answered 401 and the connection closed before any body byte is sent', async (t) => {
    const r = await headersOnly(cp.url, GIB, { 'graphql-require-preflight': '1' });
    t.equal(r.status, 401);
    t.equal(JSON.parse(r.body).errors[0].extensions.code, 'SLUICE_E_AUTH_MISSING');
    t.ok(r.closedByServer, 'the server closed the connection instead of draining 1 GiB');
  });

  t.test('an upload declaring 1 GiB with a role that may not upload is answered 403 at once, and the denial audited', async (t) => {
    const r = await headersOnly(cp.url, GIB, { 'graphql-require-preflight': '1', authorization: `Bearer ${viewer}` });
    t.equal(r.status, 403);
    t.equal(JSON.parse(r.body).errors[0].extensions.code, 'SLUICE_E_AUTH_FORBIDDEN');
    const audit = await cp.gql('{ auditEvents(first: 5, filter: { outcome: DENIED }) { edges { node { action resource outcome } } } }');
    t.same(audit.data.auditEvents.edges.map((e: any) => e.node.action), ['upload']);
  });

  t.test('a refused upload whose small body is already on its way is answered 403, not reset (50 in a row)', async (t) => {
    // Closing at once left body bytes unread in the kernel's buffer: the RST made fetch fail with EPIPE
    // instead of reading the answer (65 of 200 such uploads before).
    const codes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: 'mutation($f: Upload!) { uploadModelVersion(input: { model: "weather", file: $f }) { number } }', variables: { f: null } }));
      form.append('map', JSON.stringify({ 0: ['variables.f'] }));
      form.append('0', await openAsBlob(exampleOnnx('weather')), 'model.onnx'); // read from disk as it is sent, as `sluice upload` does
      const res = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${viewer}`, 'graphql-require-preflight': '1' }, body: form })
        .then(async (r) => ((await r.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, (err: unknown) => `fetch failed: ${String((err as Error).cause)}`);
      codes.push(res);
    }
    t.same([...new Set(codes)], ['SLUICE_E_AUTH_FORBIDDEN']);
  });

  t.test('an upload without the CSRF header, or declaring more than the artifact limit, is refused before its body', async (t) => {
    const csrf = await headersOnly(cp.url, GIB, { authorization: `Bearer ${ADMIN_TOKEN}` });
    t.equal(csrf.status, 403);
    t.equal(JSON.parse(csrf.body).errors[0].extensions.code, 'SLUICE_E_HTTP_CSRF');
    const big = await headersOnly(cp.url, 2 * GIB, { 'graphql-require-preflight': '1', authorization: `Bearer ${ADMIN_TOKEN}` });
    t.equal(big.status, 413);
    t.equal(JSON.parse(big.body).errors[0].extensions.code, 'SLUICE_E_HTTP_BODY_TOO_LARGE');
  });

  t.test('an artifact that is not ONNX is refused and leaves no file in the store', async (t) => {
    const r = await cp.upload('weather', new TextEncoder().encode('not a model'));
    t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_ARTIFACT_INVALID');
    const artifacts = join(cp.dataDir, 'artifacts');
    t.same(readdirSync(join(artifacts, 'tmp')), [], 'no temporary file left');
    t.same(readdirSync(artifacts).filter((d) => d === 'sha256'), [], 'nothing committed');
  });

  t.test('files out of the spec order are refused with a code', async (t) => {
    const form = new FormData();
    form.set('0', new Blob(['x']), 'model.onnx');
    form.set('operations', JSON.stringify({ query: 'mutation($f: File!) { createModelVersion(input: { model: "weather", artifact: $f }) { number } }', variables: { f: null } }));
    const res = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'graphql-require-preflight': '1' }, body: form });
    t.equal(res.status, 400);
    t.equal(((await res.json()) as any).errors[0].extensions.code, 'SLUICE_E_HTTP_BAD_REQUEST');
    t.same(readdirSync(join(cp.dataDir, 'artifacts', 'tmp')), []);
  });

  t.test('the uploaded version names the digest of the streamed bytes and the model signature', async (t) => {
    const bytes = readFileSync(exampleOnnx('weather'));
    const r = await cp.upload('weather', bytes);
    t.equal(r.errors, undefined);
    t.equal(r.data.createModelVersion.artifact.sha256, createHash('sha256').update(bytes).digest('hex'));
    t.equal(r.data.createModelVersion.signature.inputs.length, 1);
  });
});

// ~200 MB: the weather model followed by a second `graph` field holding one unused 50M-float
// initializer (protobuf merges repeated embedded messages, so this is still a valid ModelProto).
const PAD_FLOATS = 50 * 1024 * 1024;

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

function paddedModelHead(): { head: Buffer; padBytes: number } {
  const padBytes = PAD_FLOATS * 4;
  const name = Buffer.from('padding');
  const tensorHead = Buffer.concat([Buffer.from([0x08]), varint(PAD_FLOATS), Buffer.from([0x10, 0x01, 0x42]), varint(name.length), name, Buffer.from([0x4a]), varint(padBytes)]);
  const tensorLength = tensorHead.length + padBytes;
  const graphLength = 1 + varint(tensorLength).length + tensorLength;
  const head = Buffer.concat([readFileSync(exampleOnnx('weather')), Buffer.from([0x3a]), varint(graphLength), Buffer.from([0x2a]), varint(tensorLength), tensorHead]);
  return { head, padBytes };
}

function peakRssBytes(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

t.test('an authorised ~200 MB upload streams through a control plane process whose peak RSS grows far less than the file', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'sluice-upload-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const cp = await startSluice(['control-plane', '--port', '0', '--data', data], { env: { SLUICE_ADMIN_TOKEN: ADMIN_TOKEN } });
  t.teardown(() => cp.stop());
  const url = cp.urls[0]!;
  const gql = (query: string) =>
    fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ query }) }).then((r) => r.json());
  await gql('mutation { createModel(input: { name: "big" }) { id } }');
  const before = peakRssBytes(cp.proc.pid!);

  const { head, padBytes } = paddedModelHead();
  const fileSize = head.length + padBytes;
  const operations = JSON.stringify({ query: 'mutation($f: File!) { createModelVersion(input: { model: "big", artifact: $f }) { artifact { sha256 size } signature { inputs { name } } } }', variables: { f: null } });
  const preamble = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.f"]}\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="model.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const epilogue = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const hash = createHash('sha256').update(head);
  const answer = await new Promise<any>((resolve, reject) => {
    const req = request(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': String(preamble.length + fileSize + epilogue.length),
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'graphql-require-preflight': '1',
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    const zeros = Buffer.alloc(1024 * 1024);
    let left = padBytes;
    req.write(preamble);
    req.write(head);
    const pump = () => {
      while (left > 0) {
        const chunk = zeros.subarray(0, Math.min(zeros.length, left));
        left -= chunk.length;
        hash.update(chunk);
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end(epilogue);
    };
    pump();
  });
  t.same(answer.errors, undefined, JSON.stringify(answer.errors));
  t.equal(answer.data.createModelVersion.artifact.size, fileSize);
  t.equal(answer.data.createModelVersion.artifact.sha256, hash.digest('hex'), 'the digest is of the streamed bytes');
  t.same(answer.data.createModelVersion.signature.inputs.map((i: any) => i.name), ['features'], 'the signature is read from the stored file without its weights');
  const growth = peakRssBytes(cp.proc.pid!) - before;
  t.comment(`file ${(fileSize / 1e6).toFixed(0)} MB, control plane peak RSS ${(before / 1e6).toFixed(0)} MB before, +${(growth / 1e6).toFixed(1)} MB during the upload`);
  t.ok(growth < fileSize / 4, `peak RSS grew ${(growth / 1e6).toFixed(1)} MB, under a quarter of the ${(fileSize / 1e6).toFixed(0)} MB file`);
});
