// The shipped systemd units (deploy/systemd/): checked by systemd's own parser and its offline
// security review, and against the flags the sluice command really takes. No unit is started
// here (the test machine's PID 1 is not systemd).
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/paths.js';

const UNITS = join(ROOT, 'deploy', 'systemd');
const ANALYZE = '/usr/bin/systemd-analyze';
const noAnalyze = existsSync(ANALYZE) ? false : `${ANALYZE} is not installed here (Debian: the systemd package)`;

/** The unit files under test: the template instantiated for port 8001, as `systemctl` would. */
function unitFiles(dir: string): { name: string; file: string; command: 'gateway' | 'control-plane' }[] {
  const gateway = join(dir, 'sluice-gateway@8001.service');
  copyFileSync(join(UNITS, 'sluice-gateway@.service'), gateway);
  return [
    { name: 'sluice-gateway@.service', file: gateway, command: 'gateway' },
    { name: 'sluice-control-plane.service', file: join(UNITS, 'sluice-control-plane.service'), command: 'control-plane' },
  ];
}

/** ExecStart= with its continuation lines joined. */
function execStart(unit: string): string {
  const m = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit);
  if (m === null) throw new Error('no ExecStart=');
  return m[1]!.replace(/\\\n\s*/g, ' ');
}

t.test('systemd-analyze verify accepts both units without a warning', { skip: noAnalyze }, async (t) => {
  for (const u of unitFiles(t.testdir())) {
    const r = spawnSync(ANALYZE, ['verify', u.file], { encoding: 'utf8' });
    t.equal(r.status, 0, `${u.name}: exit status`);
    t.equal(r.stderr.trim(), '', `${u.name}: no unknown key, bad value or missing executable`);
  }
});

t.test('systemd-analyze security rates both units well hardened (exposure under 2 of 10)', { skip: noAnalyze }, async (t) => {
  for (const u of unitFiles(t.testdir())) {
    const out = execFileSync(ANALYZE, ['security', '--offline=true', u.file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /Overall exposure level for \S+: ([\d.]+)/.exec(out);
    t.ok(m, `${u.name}: an exposure level`);
    t.ok(Number(m![1]) < 2, `${u.name}: exposure ${m![1]}`);
  }
});

t.test('the units start sluice with flags it takes and keep secrets off the command line', async (t) => {
  for (const u of unitFiles(t.testdir())) {
    const unit = readFileSync(u.file, 'utf8');
    const line = execStart(unit);
    t.match(line, new RegExp(`/dist/cli/sluice\\.js ${u.command} `), `${u.name} runs sluice ${u.command}`);
    const help = execFileSync(process.execPath, [CLI, u.command, '--help'], { encoding: 'utf8' });
    for (const flag of line.slice(line.indexOf(` ${u.command} `)).matchAll(/ --([a-z][a-z-]*)/g)) t.match(help, new RegExp(`^  --${flag[1]}[ <]`, 'm'), `${u.name}: --${flag[1]} is a flag of sluice ${u.command}`);
    for (const secret of ['--token ', '--db ', 'postgres://', '--admin-token ']) t.notOk(line.includes(secret), `${u.name}: no ${secret.trim()} on the command line`);
    t.match(unit, /^KillSignal=SIGTERM$/m, `${u.name}: stopped with SIGTERM, which drains`);
    const drain = Number(/--drain-timeout-ms (\d+)/.exec(line)?.[1]);
    const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    t.ok(stopSec * 1000 > drain, `${u.name}: systemd waits ${stopSec} s, longer than the ${drain} ms drain`);
  }
  // The gateway's secrets arrive as the environment of its flags, from a root-only file.
  const gatewayHelp = execFileSync(process.execPath, [CLI, 'gateway', '--help'], { encoding: 'utf8' });
  const gatewayUnit = readFileSync(join(UNITS, 'sluice-gateway@.service'), 'utf8');
  t.match(gatewayUnit, /^EnvironmentFile=\/etc\/sluice\/gateway\.env$/m);
  for (const variable of ['SLUICE_TOKEN', 'SLUICE_CONTROL_PLANE']) {
    t.ok(gatewayUnit.includes(`${variable}=`), `the unit documents ${variable}`);
    t.ok(gatewayHelp.includes(`[env ${variable}]`), `sluice gateway reads ${variable}`);
  }
  // The control plane's arrive as systemd credentials, read through the *-file flags (which refuse files others can read).
  const cpUnit = readFileSync(join(UNITS, 'sluice-control-plane.service'), 'utf8');
  for (const [credential, flag] of [['database-url', 'db-file'], ['admin-token', 'admin-token-file'], ['kek', 'kek-file']] as const) {
    t.match(cpUnit, new RegExp(`^LoadCredential=${credential}:/etc/sluice/${credential}$`, 'm'), `credential ${credential}`);
    t.ok(execStart(cpUnit).includes(`--${flag} %d/${credential}`), `--${flag} reads the ${credential} credential`);
  }
});
