// The control plane over https, with and without mutual TLS, and its clients (the gateway's sync,
// the runner's client) following the https URL: certificates made at test time with openssl.
import t, { type Test } from 'tap';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlaneServer } from '../../../control-plane/index.js';
import { ControlPlaneClient as RunnerClient } from '../../../control-plane/runner/client.js';
import { ControlPlaneClient as GatewayClient } from '../../../gateway/sync/control-plane-client.js';
import { startGateway } from '../../../gateway/index.js';
import { isSluiceError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log.js';
import type { ClientTlsFiles, ServerTlsFiles } from '../../../lib/tls.js';
import { tlsFetch } from '../../../lib/tls-fetch.js';
import { makeTestCerts } from '../../helpers/certs.js';
import { startSluice } from '../../helpers/cli.js';
import { freePort } from '../../helpers/net.js';
import { CLI, exampleModels } from '../../helpers/paths.js';
import { eventually } from '../../helpers/wait.js';

const ADMIN = 'tls-test-admin-token-0123456789';
const certs = makeTestCerts();
t.teardown(() => certs.remove());

const ME = '{ me { name role } }';

function codeOf(err: unknown): string | undefined {
  return isSluiceError(err) ? err.code : undefined;
}

async function startTlsControlPlane(t: Test, tls: ServerTlsFiles, extra: { seed?: string } = {}): Promise<ControlPlaneServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cp-tls-'));
  const cp = await startControlPlane({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    logger: createLogger('test', 'silent'),
    adminToken: ADMIN,
    tls,
    ...(extra.seed ? { seedRepository: extra.seed, localGateway: true } : {}),
  });
  t.teardown(async () => {
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return cp;
}

t.test('an https control plane (no client certificates)', async (t) => {
  const cp = await startTlsControlPlane(t, { certFile: certs.server.cert, keyFile: certs.server.key });

  t.test('answers GraphQL over https to a client trusting its CA', async (t) => {
    t.match(cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new RunnerClient(cp.url, ADMIN, 'SLUICE_E_CONFIG_INVALID', { caFile: certs.ca });
    const { me } = await client.request<{ me: { role: string } }>(ME);
    t.equal(me.role, 'ADMIN');
  });

  t.test('refuses plaintext HTTP on its port', async (t) => {
    const received = await new Promise<string>((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: cp.port }, () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
      socket.once('close', () => resolve(data));
      socket.once('error', reject);
    });
    t.notOk(received.startsWith('HTTP/1.1 200'), 'no answer to plaintext');
  });

  t.test('a client trusting another CA refuses it with a TLS code', async (t) => {
    const client = new RunnerClient(cp.url, ADMIN, 'SLUICE_E_CONFIG_INVALID', { caFile: certs.otherCa });
    const err = await client.request(ME).then(() => undefined, (e: unknown) => e);
    t.equal(codeOf(err), 'SLUICE_E_TLS_HANDSHAKE');
    t.equal(isSluiceError(err) ? err.details?.reason : undefined, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

t.test("the gateway's client refuses an expired server certificate", async (t) => {
  const server = createHttpsServer({ cert: readFileSync(certs.expired.cert), key: readFileSync(certs.expired.key) }, (_req, res) => res.end('{}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  const client = new GatewayClient(url, 'token', new AbortController().signal, { caFile: certs.ca });
  const err = await client.desiredState().then(() => undefined, (e: unknown) => e);
  t.equal(codeOf(err), 'SLUICE_E_TLS_HANDSHAKE');
  t.equal(isSluiceError(err) ? err.details?.reason : undefined, 'CERT_HAS_EXPIRED');
  const download = await client.download(`${url}/artifacts/x`, 1024).then(() => undefined, (e: unknown) => e);
  t.equal(codeOf(download), 'SLUICE_E_TLS_HANDSHAKE', 'artifact downloads check the certificate too');
});

t.test('a control plane with mutual TLS (--tls-client-ca)', async (t) => {
  // Only weather, so the gateway that syncs loads one small model.
  const seed = join(t.testdir(), 'seed');
  mkdirSync(seed);
  cpSync(join(exampleModels(), 'weather'), join(seed, 'weather'), { recursive: true });
  const cp = await startTlsControlPlane(t, { certFile: certs.server.cert, keyFile: certs.server.key, clientCaFile: certs.ca }, { seed });
  const token = cp.localGatewayToken!;
  const good: ClientTlsFiles = { caFile: certs.ca, certFile: certs.client.cert, keyFile: certs.client.key };

  t.test('refuses a client without a certificate, or with one from another CA', async (t) => {
    for (const tls of [{ caFile: certs.ca }, { caFile: certs.ca, certFile: certs.strangerClient.cert, keyFile: certs.strangerClient.key }]) {
      const client = new GatewayClient(cp.url, token, new AbortController().signal, tls);
      const err = await client.desiredState().then(() => undefined, (e: unknown) => e);
      t.equal(codeOf(err), 'SLUICE_E_TLS_HANDSHAKE', tls.certFile === undefined ? 'no certificate' : 'a certificate from another CA');
      t.equal(isSluiceError(err) ? err.details?.reason : undefined, 'ERR_TLS_CLIENT_CERT_REFUSED');
    }
  });

  t.test('admin commands present --tls-client-cert; without it the handshake is refused with a code', async (t) => {
    const base = [CLI, 'keys', 'show-signing', '--control-plane', cp.url, '--token', ADMIN, '--control-plane-ca', certs.ca];
    const refused = await promisify(execFile)(process.execPath, base).then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.equal(refused?.code, 1, 'exits 1 without a client certificate');
    t.match(refused?.stderr ?? '', /SLUICE_E_TLS_HANDSHAKE/);
    const { stdout } = await promisify(execFile)(process.execPath, [...base, '--tls-client-cert', certs.client.cert, '--tls-client-key', certs.client.key]);
    t.match(stdout, /^key [0-9a-f]{16}\n-----BEGIN PUBLIC KEY-----/, 'the registry key, over mutual TLS');
  });

  t.test('a gateway presenting a good client certificate syncs and serves', async (t) => {
    const models = join(t.testdir(), 'models');
    mkdirSync(models);
    const gw = await startGateway({
      host: '127.0.0.1', port: 0, modelRepository: models, maxBodyBytes: 1 << 20, drainTimeoutMs: 2000,
      logger: createLogger('test', 'silent'),
      controlPlane: { url: cp.url, token, name: 'mtls-gw', tls: good },
    });
    t.teardown(() => gw.close());
    const res = await eventually('the synced weather model answers', async () => {
      const r = await fetch(`${gw.url}/v2/models/weather/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 12, 5, 3, 180] }] }),
      });
      return r.status === 200 ? r : undefined;
    }, 60_000);
    t.equal(res.status, 200);
    const admin = new RunnerClient(cp.url, ADMIN, 'SLUICE_E_CONFIG_INVALID', good);
    const { gateways } = await admin.request<{ gateways: { edges: { node: { name: string } }[] } }>('{ gateways { edges { node { name } } } }');
    t.ok(gateways.edges.some((e) => e.node.name === 'mtls-gw'), 'the gateway registered over mutual TLS');
  });
});

t.test('sluice control-plane reloads its certificate on SIGHUP without restarting', async (t) => {
  const live = { cert: join(certs.dir, 'cp-live.pem'), key: join(certs.dir, 'cp-live.key') };
  copyFileSync(certs.server.cert, live.cert);
  copyFileSync(certs.server.key, live.key);
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'sluice-cp-hup-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const proc = await startSluice(['control-plane', '--port', String(port), '--data', data, '--tls-cert', live.cert, '--tls-key', live.key, '--log-format', 'json'], { env: { SLUICE_ADMIN_TOKEN: ADMIN } });
  t.teardown(() => proc.stop());
  t.equal(proc.urls[0], `https://127.0.0.1:${port}`);
  const serial = () =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca) }, () => {
        resolve(s.getPeerCertificate().serialNumber);
        s.end();
      });
      s.once('error', reject);
    });
  t.equal(await serial(), new X509Certificate(readFileSync(certs.server.cert)).serialNumber);
  copyFileSync(certs.server2.cert, live.cert);
  copyFileSync(certs.server2.key, live.key);
  proc.proc.kill('SIGHUP');
  const next = new X509Certificate(readFileSync(certs.server2.cert)).serialNumber;
  t.equal(await eventually('the new serial is served', async () => ((await serial()) === next ? next : undefined), 10_000), next);
  const health = await tlsFetch({ caFile: certs.ca })(`https://127.0.0.1:${port}/health`);
  t.equal(health.status, 200, 'still serving after the reload');
  t.equal(proc.proc.exitCode, null, 'the process did not restart');
  const reloaded = await eventually('the reload is logged with the new serial', async () =>
    proc.output().split('\n').map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg?: string; serial?: string }) : {})).find((l) => l.msg?.startsWith('TLS certificate reloaded') === true), 10_000);
  t.equal(reloaded.serial, next);
});
