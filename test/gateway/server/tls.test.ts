// The gateway over TLS (uWS SSLApp): https and wss inference with certificates made at test time,
// plaintext and untrusted clients refused, and a certificate swap (SIGHUP's reload) that new
// connections see while open ones keep working.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { SluiceWsClient } from '../../../gateway/client/index.js';
import { isSluiceError } from '../../../lib/errors.js';
import { tlsFetch } from '../../../lib/tls-fetch.js';
import { tlsFailureOf } from '../../../lib/tls.js';
import { makeTestCerts } from '../../helpers/certs.js';
import { freePort } from '../../helpers/net.js';
import { copyModels, startTestGateway } from '../gateway-harness.js';

const certs = makeTestCerts();
t.teardown(() => certs.remove());

const WEATHER = { inputs: [{ name: 'features', datatype: 'FP32' as const, shape: [1, 5], data: [0, 12, 5, 3, 180] }] };

/** The serial of the certificate a new TLS connection to `port` is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca) }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** Send one keep-alive HTTP/1.1 GET on an open TLS socket; resolves with the status line. */
function getOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1').split('\r\n')[0]!));
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

function serialOf(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).serialNumber;
}

t.test('a gateway with --tls-cert/--tls-key', async (t) => {
  // The files the gateway reads, overwritten by the reload subtest (as an operator's renewal would).
  const live = { certFile: join(certs.dir, 'live.pem'), keyFile: join(certs.dir, 'live.key') };
  copyFileSync(certs.server.cert, live.certFile);
  copyFileSync(certs.server.key, live.keyFile);
  const port = await freePort();
  const gw = await startTestGateway(t, copyModels(t, ['weather']), { port, tls: live });
  const trusting = tlsFetch({ caFile: certs.ca });

  t.test('serves https with its URL saying so, and answers an inference call', async (t) => {
    t.equal(gw.url, `https://127.0.0.1:${port}`);
    const res = await trusting(`${gw.url}/v2/models/weather/infer`, { method: 'POST', body: JSON.stringify(WEATHER) });
    t.equal(res.status, 200);
    const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
    t.equal(body.outputs.find((o) => o.name === 'probabilities')?.data.length, 5);
  });

  t.test('answers an inference call over wss', async (t) => {
    const client = await SluiceWsClient.connect(gw.url, { ca: readFileSync(certs.ca) });
    t.teardown(() => client.close());
    const result = await client.infer('weather', WEATHER);
    t.equal(result.outputs.length, 2);
  });

  t.test('refuses plaintext HTTP on the TLS port: no HTTP answer, the connection is closed', async (t) => {
    const received = await new Promise<string>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write('GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
      socket.once('close', () => resolve(data));
      socket.once('error', reject);
    });
    t.notOk(received.startsWith('HTTP/'), 'no HTTP status line comes back');
  });

  t.test('a client that trusts another CA, or only the system store, refuses the certificate', async (t) => {
    const wrongCa = tlsFetch({ caFile: certs.otherCa });
    const err = await wrongCa(`${gw.url}/v2/health/live`).then(() => undefined, (e: unknown) => e);
    t.equal(tlsFailureOf(err), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const system = await fetch(`${gw.url}/v2/health/live`).then(() => undefined, (e: unknown) => e);
    t.equal(tlsFailureOf(system), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  t.test('a reload puts the new certificate in service for new connections; open ones keep answering', async (t) => {
    t.equal(await servedSerial(port), serialOf(certs.server.cert));
    const open = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca) });
    await new Promise((r) => open.once('secureConnect', r));
    t.teardown(() => open.destroy());
    t.equal(await getOn(open, '/v2/health/live'), 'HTTP/1.1 200 OK');

    copyFileSync(certs.server2.cert, live.certFile);
    copyFileSync(certs.server2.key, live.keyFile);
    await gw.reloadTls();
    t.equal(await servedSerial(port), serialOf(certs.server2.cert), 'a new connection gets the new serial');
    t.equal(await getOn(open, '/v2/health/live'), 'HTTP/1.1 200 OK', 'the connection opened before still answers');
    const res = await trusting(`${gw.url}/v2/models/weather/infer`, { method: 'POST', body: JSON.stringify(WEATHER) });
    t.equal(res.status, 200, 'routes registered before the reload answer on the new certificate');
  });

  t.test('a reload with an unusable key keeps the old certificate in service', async (t) => {
    const before = await servedSerial(port);
    writeFileSync(live.keyFile, 'not a key');
    const err = await gw.reloadTls().then(() => undefined, (e: unknown) => e);
    t.equal(isSluiceError(err) ? err.code : undefined, 'SLUICE_E_TLS_FILE_INVALID');
    t.equal(await servedSerial(port), before);
  });
});

t.test('a key that does not match the certificate stops the start, naming the flag', async (t) => {
  const err = await startTestGateway(t, copyModels(t, ['weather']), { tls: { certFile: certs.server.cert, keyFile: certs.client.key } }).then(() => undefined, (e: unknown) => e);
  t.equal(isSluiceError(err) ? err.code : undefined, 'SLUICE_E_TLS_FILE_INVALID');
  t.equal(isSluiceError(err) ? err.details?.flag : undefined, 'tls-key');
});
