// Sluice behind Debian's nginx, with the shipped deploy/nginx/sluice.conf (test/helpers/nginx.ts
// rewrites only its upstream servers and listen ports): two real gateway processes and a control
// plane process behind it, real HTTP, WebSocket and server-sent-event traffic through nginx on
// 127.0.0.1.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { startSluice, type SluiceProcess } from '../helpers/cli.js';
import { freePorts, renderNginxConf, SHIPPED_NGINX_CONF, startNginx, triesAnswered, type RunningNginx } from '../helpers/nginx.js';
import { binaryRequest, copyModels, randomFloats } from '../gateway/gateway-harness.js';
import { SluiceWsClient } from '../../gateway/client/index.js';
import { ControlPlaneClient, type DesiredState } from '../../gateway/sync/control-plane-client.js';
import { eventually, graphqlAs } from '../helpers/wait.js';

const WEATHER = { inputs: [{ name: 'features', datatype: 'FP32' as const, shape: [1, 5], data: [0, 12.5, 5.1, 3.2, 180] }] };

/** Open TCP connections (any state, TIME_WAIT included) whose remote end is this port on 127.0.0.1: nginx's side of its upstream connections. */
function connectionsTo(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => l.trim().split(/\s+/)[2]?.endsWith(hex)).length;
}

async function inferVia(agent: Agent, base: string, model: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await request(`${base}/v2/models/${model}/infer`, { method: 'POST', body, headers, dispatcher: agent });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

t.test('Sluice behind nginx with the shipped config (two gateway processes)', async (t) => {
  const models = copyModels(t, ['weather', 'text-detection']);
  const [gwPortA, gwPortB, httpPort, cpPort, cpUpstreamPort] = await freePorts(5);
  const gateways: SluiceProcess[] = [];
  t.teardown(() => gateways.forEach((g) => g.proc.exitCode === null && g.proc.kill('SIGKILL')));
  const startGateway = (port: number) => startSluice(['gateway', '--models', models, '--port', String(port), '--drain-timeout-ms', '60000']);
  for (const port of [gwPortA!, gwPortB!]) gateways.push(await startGateway(port));
  const [gwA, gwB] = gateways as [SluiceProcess, SluiceProcess];
  const adminToken = randomBytes(32).toString('hex');
  const cp = await startSluice(['control-plane', '--port', String(cpUpstreamPort), '--data', join(dirname(models), 'control-plane')], { env: { SLUICE_ADMIN_TOKEN: adminToken } });
  t.teardown(() => cp.proc.exitCode === null && cp.proc.kill('SIGKILL'));
  const conf = renderNginxConf(readFileSync(SHIPPED_NGINX_CONF, 'utf8'), {
    upstreams: { sluice_gateways: [`127.0.0.1:${gwPortA}`, `127.0.0.1:${gwPortB}`], sluice_control_plane: [`127.0.0.1:${cpUpstreamPort}`] },
    listen: [httpPort!, cpPort!],
  });
  let nginx: RunningNginx | undefined;
  t.teardown(() => nginx?.stop());
  // Not t.testdir() again: a second call empties the folder, models included.
  nginx = await startNginx(join(dirname(models), 'nginx'), conf, [httpPort!, cpPort!]);
  const base = `http://127.0.0.1:${httpPort}`;
  const agent = new Agent({ connections: 8 });
  t.teardown(() => agent.close());

  await t.test('JSON infer calls reach both gateways over kept-alive upstream connections', async (t) => {
    const calls = 60;
    for (let i = 0; i < calls; i++) {
      const r = await inferVia(agent, base, 'weather', JSON.stringify(WEATHER), { 'content-type': 'application/json' });
      t.equal(r.status, 200, `call ${i}${r.status === 200 ? '' : `: ${r.body.toString()}`}`);
    }
    const upstreams = nginx!.accessLog().trim().split('\n').filter((l) => l.includes('/v2/models/weather/infer')).map((l) => l.split(' ')[2]);
    t.same(new Set(upstreams), new Set([`127.0.0.1:${gwPortA}`, `127.0.0.1:${gwPortB}`]), 'round robin over both gateways');
    // Without keep-alive every call would leave its own connection (TIME_WAIT) behind: 30 per gateway.
    for (const port of [gwPortA!, gwPortB!]) t.ok(connectionsTo(port) <= 2, `few connections to ${port} for ${calls / 2} calls (${connectionsTo(port)})`);
  });

  await t.test('a binary tensor call passes through nginx byte for byte', async (t) => {
    // text-detection answers a probability per pixel: any changed input byte changes outputs near it.
    const side = 96;
    const image = randomFloats(3 * side * side, 19);
    const req = binaryRequest(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, side, side], parameters: { binary_data_size: image.byteLength } }], outputs: [{ name: 'sigmoid_0.tmp_0', parameters: { binary_data: true } }] },
      [image],
    );
    const direct = await inferVia(agent, `http://127.0.0.1:${gwPortA}`, 'text-detection', req.body, req.headers);
    const proxied = await inferVia(agent, base, 'text-detection', req.body, req.headers);
    t.equal(direct.status, 200, 'the direct call is answered');
    t.equal(proxied.status, 200, 'the call through nginx is answered');
    const headerLength = Number(proxied.headers['inference-header-content-length']);
    t.ok(headerLength > 0, 'Inference-Header-Content-Length comes back through nginx');
    t.equal(proxied.body.byteLength - headerLength, side * side * 4, 'one raw FP32 output per pixel');
    t.ok(proxied.body.subarray(headerLength).equals(direct.body.subarray(Number(direct.headers['inference-header-content-length']))), 'output bytes equal those of the direct call');
  });

  await t.test('WebSocket calls on /v2/ws go through nginx', async (t) => {
    const client = await SluiceWsClient.connect(base);
    try {
      const answers = await Promise.all([0, 1, 2, 3].map(() => client.infer('weather', WEATHER)));
      t.same(answers.map((a) => a.model_name), ['weather', 'weather', 'weather', 'weather']);
      const bin = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: new Float32Array(WEATHER.inputs[0]!.data) }] }, { binary: true });
      t.equal(bin.outputs.length > 0, true, 'a binary frame is answered');
    } finally {
      await client.close();
    }
    t.match(nginx!.accessLog(), /^101 101 \S+ "GET \/v2\/ws /m, 'nginx upgraded the connection to a gateway');
  });

  await t.test('the control plane answers GraphQL and holds a desired-state subscription (SSE) through nginx', async (t) => {
    const via = `http://127.0.0.1:${cpPort}`;
    const created = await graphqlAs(via, adminToken, 'mutation { createToken(input: { name: "edge-1", role: GATEWAY }) { secret } }');
    const client = new ControlPlaneClient(via, created.createToken.secret as string);
    await client.register('edge-1', 'local', {});
    const abort = new AbortController();
    const first = await new Promise<DesiredState>((resolve, reject) => {
      client.subscribe((state) => {
        resolve(state);
        abort.abort();
      }, abort.signal).catch((err: unknown) => (abort.signal.aborted ? undefined : reject(err)));
    });
    t.type(first.revision, 'string', 'the first pushed state arrives while the stream stays open');
    t.match(nginx!.accessLog(), /^200 200 \S+ "POST \/graphql /m, 'the calls went through nginx');
  });

  await t.test('SIGTERM drains one gateway under steady calls through nginx: no call fails', async (t) => {
    // A slow call held directly on gateway A keeps its drain open (readiness false, 503 to new calls) for a while.
    const side = 640;
    const page = new Float32Array(3 * side * side).fill(0.25);
    const slow = binaryRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, side, side], parameters: { binary_data_size: page.byteLength } }] }, [page]);
    const held = inferVia(agent, `http://127.0.0.1:${gwPortA}`, 'text-detection', slow.body, slow.headers);
    const statuses = new Map<number, number>();
    const firstBodies = new Map<number, string>();
    // Three streams of small JSON calls and one of 110 KB binary ones (a body nginx cannot read with the headers).
    const pixels = randomFloats(3 * 96 * 96, 7);
    const tile = binaryRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 96, 96], parameters: { binary_data_size: pixels.byteLength } }] }, [pixels]);
    const calls = [
      () => inferVia(agent, base, 'weather', JSON.stringify(WEATHER), { 'content-type': 'application/json' }),
      () => inferVia(agent, base, 'text-detection', tile.body, tile.headers),
    ];
    let stop = false;
    const stream = async (call: (typeof calls)[number]) => {
      while (!stop) {
        const r = await call();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status !== 200 && !firstBodies.has(r.status)) firstBodies.set(r.status, r.body.toString().slice(0, 300));
      }
    };
    const streams = [calls[0]!, calls[0]!, calls[0]!, calls[1]!].map((call) => stream(call));
    // SIGTERM once the slow call runs on A, so the drain has something to wait for.
    await eventually('the slow call in flight on gateway A', async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${gwPortA}/metrics`)).text();
      return metrics.includes('sluice_inference_in_flight{model="text-detection",version="1"} 1') ? true : undefined;
    });
    gwA.proc.kill('SIGTERM');
    let drainingSeen = false;
    while (gwA.proc.exitCode === null) {
      const ready = await fetch(`http://127.0.0.1:${gwPortA}/v2/health/ready`).then((r) => r.status, () => 0);
      if (ready === 503) drainingSeen = true;
      await new Promise((r) => setTimeout(r, 20));
    }
    const exit = await gwA.exited;
    // Calls keep flowing after A is gone: nginx finds its port closed and uses B alone.
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(streams);
    const heldAnswer = await held;
    t.equal(heldAnswer.status, 200, 'the call in flight on A finished during its drain', { body: heldAnswer.body.subarray(0, 300).toString() });
    t.equal(exit, 0, 'gateway A drained and exited 0');
    t.ok(drainingSeen, 'A reported not ready while it drained');
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    t.same(Object.fromEntries(statuses), { 200: total }, `every one of ${total} calls through nginx answered 200`, { bodies: Object.fromEntries(firstBodies) });
    // The 503s A gave while draining were seen by nginx and answered by B instead.
    const rerouted = nginx!.accessLog().split('\n').filter((l) => /^200 503, 200 /.test(l));
    t.ok(rerouted.length > 0, `nginx sent calls refused by the draining gateway to the other (${rerouted.length})`);
    t.equal(gwB.proc.exitCode, null, 'gateway B still serves');
  });

  await t.test('a rolling restart that stops the next gateway once nginx sends calls to the restarted one costs no call', async (t) => {
    // A drained and exited above: nginx counted its 503s and refused connections and keeps it out
    // for fail_timeout, however soon it is back. Stopping B before nginx takes A back would leave
    // it no live upstream (every call 502 at once: docs/deploy.md, "A rolling restart behind nginx").
    const statuses = new Map<number, number>();
    let stop = false;
    const stream = async () => {
      while (!stop) {
        const r = await inferVia(agent, base, 'weather', JSON.stringify(WEATHER), { 'content-type': 'application/json' });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    };
    const streams = [stream(), stream()];
    const logOffset = nginx!.accessLog().length;
    const restarted = await startGateway(gwPortA!);
    gateways.push(restarted);
    await eventually('nginx sends calls to the restarted gateway A', async () => (triesAnswered(nginx!.accessLog().slice(logOffset), `127.0.0.1:${gwPortA}`) > 0 ? true : undefined), 30_000);
    gwB.proc.kill('SIGTERM');
    t.equal(await gwB.exited, 0, 'gateway B drained and exited 0');
    // Calls keep flowing after B is gone: nginx finds its port closed and uses A alone.
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(streams);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    t.same(Object.fromEntries(statuses), { 200: total }, `every one of ${total} calls through nginx answered 200`);
  });
});
