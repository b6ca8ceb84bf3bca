import t from 'tap';
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI } from '../helpers/paths.js';
import { startSluice } from '../helpers/cli.js';
import { eventually, graphqlAs } from '../helpers/wait.js';

const run = promisify(execFile);
const PORTS = ['--gateway-port', '0', '--control-plane-port', '0'];

/** Run `sluice <args>` until its output matches `until`; then SIGTERM it and resolve with the output and exit code. */
function runUntil(args: string[], until: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ out: string; code: number | null; stop: () => Promise<number | null>; matched: Promise<string> }> {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  const matched = new Promise<string>((resolve, reject) => {
    const check = (chunk: Buffer) => {
      out += chunk.toString();
      if (until.test(out)) resolve(out);
    };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    void exited.then((code) => reject(new Error(`exited with ${code} before ${until}:\n${out}`)));
  });
  const stop = () => {
    proc.kill('SIGTERM');
    return exited;
  };
  return Promise.resolve({ get out() { return out; }, code: null, stop, matched });
}

t.test('on a terminal, serve shows progress, then one screen with the URLs and the admin token that works', async (t) => {
  const data = t.testdir({});
  const serve = await runUntil(['serve', ...PORTS, '--data', data, '--log-format', 'pretty'], /Ctrl-C stops/);
  t.teardown(() => serve.stop());
  const screen = await serve.matched;
  t.notMatch(screen, /^\{/m, 'no JSON line');
  t.match(screen, /\.\.\. building the example models .*: weather/, 'the first-start build shows progress');
  const gateway = /gateway +(http:\/\/127\.0\.0\.1:\d+)/.exec(screen)?.[1];
  const controlPlane = /control plane +(http:\/\/127\.0\.0\.1:\d+)/.exec(screen)?.[1];
  const token = /\|  (sluice_[A-Za-z0-9_-]+) +\|/.exec(screen)?.[1];
  t.ok(gateway && controlPlane && token, 'the screen names the gateway, the control plane and the token');
  t.equal(screen.split(token!).length - 1, 2, 'the token appears in its box and in the export line, nowhere else');
  t.same((await graphqlAs(controlPlane!, token!, '{ me { role } }')).me, { role: 'ADMIN' });
  const res = await fetch(`${gateway}/v2/health/ready`);
  t.equal(res.status, 200);
  t.equal(await serve.stop(), 0);
});

t.test('a gateway alone on a terminal releases its log lines once it is ready', async (t) => {
  const { exampleModels } = await import('../helpers/paths.js');
  const gw = await runUntil(['gateway', '--models', exampleModels(), '--port', '0', '--log-format', 'pretty'], /Ctrl-C stops/);
  t.teardown(() => gw.stop());
  const screen = await gw.matched;
  t.match(screen, /gateway +http:\/\/127\.0\.0\.1:\d+/);
  t.match(screen, /models +text-detection, text-direction, weather/);
  t.notMatch(screen, /ADMIN TOKEN/, 'no control plane, no token');
  t.equal(await gw.stop(), 0);
  t.match(gw.out, /\n\d\d:\d\d:\d\d INFO  shutting down  signal=SIGTERM\n/, 'info lines after the screen are shown');
});

t.test('off a terminal, serve writes JSON lines with no duplicated key, the token file once, and a ready line', async (t) => {
  const data = t.testdir({});
  const serve = await startSluice(['serve', ...PORTS, '--data', data], { expectListening: 2, timeoutMs: 120_000 });
  t.teardown(() => serve.proc.exitCode === null && serve.proc.kill('SIGKILL'));
  // Both servers listen before the gateway's first sync has adopted the example models: stop once ready.
  await eventually('the ready line', async () => (/"msg":"ready"/.test(serve.output()) ? true : undefined), 60_000);
  t.equal(await serve.stop('SIGTERM'), 0);
  const lines = serve.output().trim().split('\n');
  const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const line of lines) {
    const keys = [...line.matchAll(/[{,]"([a-zA-Z_]+)":/g)].map((m) => m[1]);
    t.equal(new Set(keys).size, keys.length, `unique keys: ${line.slice(0, 120)}`);
  }
  t.same(events.filter((e) => typeof e.model === 'string' && e.dir !== undefined && e.msg !== 'model loaded').map((e) => e.model), ['text-direction', 'text-detection', 'weather'], 'one progress line per example model');
  t.equal(events.filter((e) => typeof e.adminTokenFile === 'string').length, 1, 'the file holding the generated token is named once');
  t.notOk(events.some((e) => 'adminToken' in e), 'the token itself is not logged');
  t.ok(events.some((e) => e.msg === 'ready' && typeof e.gateway === 'string' && typeof e.controlPlane === 'string'), 'a ready line names both URLs');
  t.notOk(events.some((e) => (e.level as number) >= 50), 'no error was logged, shutdown included');
});

t.test('a lost admin token: token create makes a new one on the data folder; SLUICE_ADMIN_TOKEN is then ignored with a warning', async (t) => {
  const data = t.testdir({});
  const first = await startSluice(['control-plane', '--port', '0', '--data', data], { env: { SLUICE_ADMIN_TOKEN: undefined } });
  await eventually('the generated admin token\'s file to be logged', async () => (/"adminTokenFile":"/.test(first.output()) ? true : undefined), 10_000);

  const created = await run(process.execPath, [CLI, 'token', 'create', '--role', 'admin', '--data', data]);
  const token = JSON.parse(created.stdout) as { secret: string; role: string };
  t.equal(token.role, 'admin');
  t.same((await graphqlAs(first.urls[0]!, token.secret, '{ me { role } }')).me, { role: 'ADMIN' }, 'the running control plane accepts the new token');
  t.equal(await first.stop(), 0);

  const again = await startSluice(['control-plane', '--port', '0', '--data', data], { env: { SLUICE_ADMIN_TOKEN: 'a-token-that-is-long-enough-0123' } });
  t.equal(await again.stop(), 0);
  const warnings = again.output().trim().split('\n').map((l) => JSON.parse(l) as { level: number; ignored?: string; adminTokenFile?: string });
  t.ok(warnings.some((e) => e.level === 40 && e.ignored === 'SLUICE_ADMIN_TOKEN'), 'the ignored variable is warned about');
  t.notOk(warnings.some((e) => e.adminTokenFile !== undefined), 'no token is generated on a later start');
  await t.rejects(run(process.execPath, [CLI, 'token', 'create', '--role', 'admin', '--data', t.testdir({})]), { code: 1, stderr: /SLUICE_E_CONFIG_INVALID/ }, 'a folder without a control plane is refused');
});
