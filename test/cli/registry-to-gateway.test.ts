// The path a user walks after `sluice serve`: upload a retrained version with `--alias production`
// and get answers from it; and the ways that path is refused (same bytes, a bad config, a profile
// that does not fit the model), each seen from the CLI with its code, the gateway's reason included.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainWeatherModel } from '../../examples/weather.js';
import { loadWeather, weatherFeatures, WEATHER_FEATURES } from '../../examples/weather-dataset.js';
import { CLI } from '../helpers/paths.js';
import { eventually, graphqlAs } from '../helpers/wait.js';
import { startSluice } from '../helpers/cli.js';

const ADMIN = 'sluice_test_admin_token_for_registry_0123456789';
const CALL = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sluice(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

async function servedVersion(gw: string): Promise<string | undefined> {
  const res = await fetch(`${gw}/v2/models/weather/infer`, { method: 'POST', body: CALL });
  return res.status === 200 ? ((await res.json()) as { model_version: string }).model_version : undefined;
}

t.test('serve, upload a retrained weather with --alias production: the gateway answers with it; refusals reach the CLI', async (t) => {
  const dir = t.testdir({});
  // Trained before any connection is open: training blocks the event loop for seconds.
  const retrained = join(dir, 'retrained.onnx');
  writeFileSync(retrained, trainWeatherModel({ seed: 11 }).onnx);
  const third = join(dir, 'third.onnx');
  writeFileSync(third, trainWeatherModel({ seed: 12 }).onnx);
  const serve = await startSluice(['serve', '--gateway-port', '0', '--control-plane-port', '0', '--data', join(dir, 'data'), '--log-level', 'info'], {
    env: { SLUICE_ADMIN_TOKEN: ADMIN },
    expectListening: 2,
    timeoutMs: 180_000,
  });
  t.teardown(() => (serve.proc.exitCode === null ? serve.stop('SIGKILL') : undefined));
  const [cp, gw] = serve.urls as [string, string];
  const base = ['--control-plane', cp, '--token', ADMIN, '--model', 'weather', '--log-level', 'warn'];
  const registered = await graphqlAs(cp, ADMIN, '{ modelVersion(model: "weather", version: 1) { config { sha256 } profile { sha256 } statement } }');
  t.ok(registered.modelVersion.config && registered.modelVersion.profile && registered.modelVersion.statement, 'the seeded v1 carries its config, profile and statement');

  // Rows of the training data, as CSV, for the retrained model's profile.
  const dataset = join(dir, 'rows.csv');
  writeFileSync(dataset, [WEATHER_FEATURES.join(','), ...loadWeather().days.slice(0, 400).map((d) => weatherFeatures(d).join(','))].join('\n'));

  const up = await sluice(['upload', ...base, '--file', retrained, '--dataset', dataset, '--metrics', 'accuracy=0.85', '--alias', 'production']);
  const uploadedAt = performance.now();
  t.equal(up.code, 0, `upload exits 0 (${up.stderr})`);
  const result = JSON.parse(up.stdout.trim().split('\n').pop()!);
  t.equal(result.version, 2);
  t.ok(result.profile, 'a profile was computed from the dataset');
  t.same(result.fleet.states, [{ gateway: 'local', state: 'ready', reason: null }]);
  t.match(up.stderr, /weather version 2 is production: loaded on 1 of 1 gateway/);
  let served: string | undefined;
  while (performance.now() - uploadedAt < 2000 && (served = await servedVersion(gw)) !== '2') await new Promise((r) => setTimeout(r, 20));
  t.equal(served, '2', 'the gateway answers with version 2 within 2 s of the upload exiting');
  t.comment(`upload exit → gateway answers v2: ${Math.round(performance.now() - uploadedAt)} ms (upload reported ${result.fleet.seconds} s for the fleet)`);
  t.equal((await fetch(`${gw}/v2/models/weather/versions/2/drift`)).status, 200, 'v2 serves with drift on, from the uploaded profile');

  const duplicate = await sluice(['upload', ...base, '--file', retrained]);
  t.equal(duplicate.code, 1, 'the same bytes again are refused');
  t.match(duplicate.stderr, /SLUICE_E_ARTIFACT_DUPLICATE/);

  const badConfig = join(dir, 'bad-config.json');
  writeFileSync(badConfig, JSON.stringify({ max_batch_size: 'eight' }));
  const refusedConfig = await sluice(['upload', ...base, '--file', third, '--config', badConfig, '--alias', 'production']);
  t.equal(refusedConfig.code, 1);
  t.match(refusedConfig.stderr, /max_batch_size[^\n]*SLUICE_E_CONFIG_INVALID/, 'the bad config is refused naming the field');
  const count = await graphqlAs(cp, ADMIN, '{ model(name: "weather") { versions { edges { node { number } } } } }');
  t.equal(count.model.versions.edges.length, 2, 'nothing was registered');

  // A profile that parses but describes 3 input features where the model takes 5: the gateway refuses.
  const profile = JSON.parse(readFileSync(join(dir, 'data', 'models', 'weather', '1', 'profile.json'), 'utf8'));
  profile.tensors.find((x: { name: string }) => x.name === 'features').features.splice(3);
  const broken = join(dir, 'broken-profile.json');
  writeFileSync(broken, JSON.stringify(profile));
  const refused = await sluice(['upload', ...base, '--file', third, '--profile', broken, '--alias', 'production', '--wait-seconds', '20']);
  t.equal(refused.code, 1, 'no gateway loaded it: non-zero exit');
  t.match(refused.stderr, /loaded on 0 of 1 gateway/);
  t.match(refused.stderr, /gateway local refused it: drift profile[^\n]*features has 3 features[^\n]*gives 5/, "the gateway's reason, whole");
  t.match(refused.stderr, /SLUICE_E_FLEET_NOT_LOADED/);
  t.equal(await servedVersion(gw), '2', 'version 2 keeps serving');
  const reported = await graphqlAs(cp, ADMIN, '{ gateway(name: "local") { health loadedVersions { version state reason } } }');
  t.equal(reported.gateway.health, 'DEGRADED');
  t.match(reported.gateway.loadedVersions.find((v: { version: number }) => v.version === 3), { state: 'failed', reason: /features has 3 features/ });

  const back = await sluice(['set-alias', '--control-plane', cp, '--token', ADMIN, '--model', 'weather', '--alias', 'production', '--version', '2', '--log-level', 'warn']);
  t.equal(back.code, 0);
  t.match(back.stderr, /weather version 2 is production: loaded on 1 of 1 gateway/);
  // (A retry of v3 may be writing its folder when the alias moves back; once it is done, none is left.)
  t.ok(await eventually('the refused version leaves no folder for a restart to load', async () => (existsSync(join(dir, 'data', 'models', 'weather', '3')) ? undefined : true)));
  t.equal(await serve.stop('SIGTERM'), 0);
});
