// The whole loop as separate processes on loopback, through the commands a user runs:
// `sluice control-plane`, `sluice upload`, `sluice gateway --control-plane`.
import t from 'tap';
import { execFile } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { trainWeatherModel } from '../../examples/weather.js';
import { CLI, exampleModels } from '../helpers/paths.js';
import { eventually, graphqlAs } from '../helpers/wait.js';
import { startSluice, type SluiceProcess } from '../helpers/cli.js';

const run = promisify(execFile);
const ADMIN = 'sluice_test_admin_token_for_processes_0123456789';
const CALL = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] });

const graphql = (url: string, query: string) => graphqlAs(url, ADMIN, query);

async function infer(gw: string): Promise<{ status: number; version?: string }> {
  const res = await fetch(`${gw}/v2/models/weather/infer`, { method: 'POST', body: CALL });
  const body = (await res.json()) as { model_version?: string };
  return { status: res.status, ...(body.model_version === undefined ? {} : { version: body.model_version }) };
}


async function upload(cp: string, file: string, extra: string[] = []): Promise<{ version: number; sha256: string }> {
  const { stdout } = await run(process.execPath, [CLI, 'upload', '--control-plane', cp, '--token', ADMIN, '--model', 'weather', '--file', file, '--log-level', 'silent', ...extra]);
  return JSON.parse(stdout.trim().split('\n').pop()!) as { version: number; sha256: string };
}

t.test('control plane and gateway processes: upload, alias move, altered artifact refused, inference outlives the control plane', async (t) => {
  const dir = t.testdir({ models: {} });
  const data = join(dir, 'cp');
  const procs: SluiceProcess[] = [];
  t.teardown(() => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  });
  const cpProc = await startSluice(['control-plane', '--port', '0', '--data', data], { env: { SLUICE_ADMIN_TOKEN: ADMIN } });
  procs.push(cpProc);
  const cp = cpProc.urls[0]!;

  const v1 = await upload(cp, join(exampleModels(), 'weather', '1', 'model.onnx'), ['--create-model', '--alias', 'production']);
  t.equal(v1.version, 1);
  const token = (await graphql(cp, 'mutation { createToken(input: { name: "edge-a", role: GATEWAY }) { secret } }')).createToken.secret as string;

  const gwProc = await startSluice(['gateway', '--models', join(dir, 'models'), '--port', '0', '--control-plane', cp, '--token', token, '--name', 'edge-a', '--region', 'loopback', '--labels', 'tier=test']);
  procs.push(gwProc);
  const gw = gwProc.urls[0]!;
  t.equal((await eventually('the gateway serves v1 from the registry', async () => ((await infer(gw)).status === 200 ? infer(gw) : undefined))).version, '1');

  // A retrained version (other seed, other bytes) moves production: the gateway follows.
  const retrained = join(dir, 'retrained.onnx');
  writeFileSync(retrained, trainWeatherModel({ seed: 11 }).onnx);
  const v2 = await upload(cp, retrained, ['--alias', 'production']);
  t.equal(v2.version, 2);
  await eventually('production v2 reaches the gateway', async () => ((await infer(gw)).version === '2' ? true : undefined));
  const seen = await graphql(cp, '{ gateway(name: "edge-a") { region labels { key value } status loadedVersions { model version } } }');
  t.equal(seen.gateway.region, 'loopback');
  t.same(seen.gateway.labels, [{ key: 'tier', value: 'test' }]);

  // Version 3 is altered on the control plane's disk after registration: refused, v2 keeps serving.
  const third = join(dir, 'third.onnx');
  writeFileSync(third, trainWeatherModel({ seed: 12 }).onnx);
  const v3 = await upload(cp, third);
  appendFileSync(join(data, 'artifacts', 'sha256', v3.sha256.slice(0, 2), v3.sha256), Buffer.from('tampered'));
  await graphql(cp, 'mutation { setAlias(input: { model: "weather", alias: "production", version: 3 }) { name } }');
  await eventually('the gateway logs the refusal', async () => (/model version refused/.test(gwProc.output()) ? true : undefined));
  t.match(gwProc.output(), /"version":3[^\n]*sha256|sha256[^\n]*"version":3/, 'the refusal names the version and the digest check');
  t.same(await infer(gw), { status: 200, version: '2' }, 'the old version keeps serving');

  t.equal(await cpProc.stop('SIGTERM'), 0, 'the control plane stops cleanly');
  t.same(await infer(gw), { status: 200, version: '2' }, 'inference goes on without the control plane');
  t.equal(await gwProc.stop('SIGTERM'), 0);
});

t.test('a gateway whose --models folder the registry has not filled yet drains on SIGTERM and exits 0', async (t) => {
  const dir = t.testdir();
  const cpProc = await startSluice(['control-plane', '--port', '0', '--data', join(dir, 'cp')], { env: { SLUICE_ADMIN_TOKEN: ADMIN } });
  t.teardown(() => cpProc.proc.exitCode === null && cpProc.proc.kill('SIGKILL'));
  const token = (await graphql(cpProc.urls[0]!, 'mutation { createToken(input: { name: "edge-new", role: GATEWAY }) { secret } }')).createToken.secret as string;
  // The folder does not exist: a gateway under a control plane fills it from the registry.
  const gwProc = await startSluice(['gateway', '--models', join(dir, 'not-made-yet'), '--port', '0', '--control-plane', cpProc.urls[0]!, '--token', token, '--name', 'edge-new']);
  t.teardown(() => gwProc.proc.exitCode === null && gwProc.proc.kill('SIGKILL'));
  await eventually('the gateway has registered', async () => (/registered with the control plane/.test(gwProc.output()) ? true : undefined));
  t.equal(await gwProc.stop('SIGTERM'), 0, 'SIGTERM drains it and it exits 0, not killed by the signal');
});
