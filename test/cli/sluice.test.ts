import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI } from '../helpers/paths.js';
import { startSluice } from '../helpers/cli.js';

const run = promisify(execFile);

t.test('--help works for the command and every subcommand', async (t) => {
  const top = await run(process.execPath, [CLI, '--help']);
  for (const c of ['serve', 'gateway', 'control-plane', 'examples', 'upload', 'audit-export', 'token create']) {
    t.match(top.stdout, c);
    const sub = await run(process.execPath, [CLI, ...c.split(' '), '--help']);
    t.match(sub.stdout, `Usage: sluice ${c}`);
  }
});

t.test('an unknown command or flag exits 1 with a message', async (t) => {
  await t.rejects(run(process.execPath, [CLI, 'fly']), { code: 1, stderr: /unknown command "fly"/ });
  await t.rejects(run(process.execPath, [CLI, 'gateway', '--prot', '1']), { code: 1, stderr: /SLUICE_E_CONFIG_INVALID/ });
  await t.rejects(run(process.execPath, [CLI, 'token', 'frob']), { code: 1, stderr: /unknown command "token frob"/ });
  await t.rejects(run(process.execPath, [CLI, 'gateway', '--port', 'x']), { code: 1, stderr: /SLUICE_E_CONFIG_INVALID/ });
});

t.test('control-plane --heartbeat-interval below 1 s exits 1 with SLUICE_E_CONFIG_INVALID', async (t) => {
  const dir = t.testdir();
  await t.rejects(run(process.execPath, [CLI, 'control-plane', '--port', '0', '--data', dir, '--heartbeat-interval', '0']), { code: 1, stderr: /SLUICE_E_CONFIG_INVALID/ });
});

t.test('gateway --advertise-url (or SLUICE_ADVERTISE_URL) that is not an http(s) base URL exits 1 with SLUICE_E_CONFIG_INVALID', async (t) => {
  const dir = t.testdir();
  const base = [CLI, 'gateway', '--models', dir, '--port', '0', '--control-plane', 'http://127.0.0.1:9', '--token', 'x'];
  for (const bad of ['ftp://10.0.0.1', 'http://10.0.0.1:8000/v2', 'nope']) {
    await t.rejects(run(process.execPath, [...base, '--advertise-url', bad]), { code: 1, stderr: /SLUICE_E_CONFIG_INVALID.*advertise-url|advertise-url.*SLUICE_E_CONFIG_INVALID/s }, bad);
  }
  await t.rejects(run(process.execPath, base, { env: { ...process.env, SLUICE_ADVERTISE_URL: 'ftp://10.0.0.1' } }), { code: 1, stderr: /SLUICE_E_CONFIG_INVALID/ }, 'from the environment');
});

t.test('gateway on a non-loopback address without a token source exits 1 and says why; a bad token file names its line', async (t) => {
  const models = t.testdir({ models: {}, tokens: 'too-short infer:*\n' });
  await t.rejects(run(process.execPath, [CLI, 'gateway', '--host', '0.0.0.0', '--port', '0', '--models', `${models}/models`]), { code: 1, stderr: /SLUICE_E_GATEWAY_INSECURE/ });
  await t.rejects(run(process.execPath, [CLI, 'gateway', '--port', '0', '--models', `${models}/models`, '--token-file', `${models}/tokens`]), { code: 1, stderr: /line 1.*SLUICE_E_GATEWAY_TOKEN_FILE/ });
});

t.test('control-plane --port 0 listens on a free port and SIGTERM exits 0', async (t) => {
  const dir = t.testdir({});
  const cp = await startSluice(['control-plane', '--port', '0', '--data', dir]);
  t.match(cp.urls[0], /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(cp.urls[0], 'http://127.0.0.1:0');
  const res = await fetch(`${cp.urls[0]}/health`);
  t.equal(res.status, 200);
  t.equal(await cp.stop('SIGTERM'), 0);
});

t.test('flags come from SLUICE_* environment variables', async (t) => {
  const dir = t.testdir({});
  const cp = await startSluice(['control-plane'], { env: { SLUICE_PORT: '0', SLUICE_DATA: dir } });
  t.match(cp.urls[0], /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(await cp.stop('SIGINT'), 0, 'SIGINT also exits 0');
});

t.test('gateway --models <examples> --port 0 serves weather and exits 0 on SIGTERM', async (t) => {
  const { exampleModels } = await import('../helpers/paths.js');
  const gw = await startSluice(['gateway', '--models', exampleModels(), '--port', '0']);
  t.match(gw.urls[0], /^http:\/\/127\.0\.0\.1:\d+$/);
  const res = await fetch(`${gw.urls[0]}/v2/models/weather/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 12, 4, 3, 40] }] }),
  });
  t.equal(res.status, 200);
  const body = (await res.json()) as { model_name: string; outputs: { name: string }[] };
  t.equal(body.model_name, 'weather');
  t.same(body.outputs.map((o) => o.name), ['probabilities', 'label']);
  t.equal(await gw.stop('SIGTERM'), 0);
});

t.test('a reader that closes the pipe early ends the command with 0, not an EPIPE crash', async (t) => {
  // As `sluice train logs --id J | head -3` does once head has its lines.
  const child = spawn(process.execPath, [CLI, 'help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0);
  t.notMatch(stderr, /EPIPE/);
});
