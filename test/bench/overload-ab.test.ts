import t from 'tap';
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../bench/targets/commands.js';

const script = join(ROOT, 'dist', 'bench', 'overload-ab.js');

t.test('overload-ab: a real gateway and the HTTP floor (uws-fixed), one run each, every call accounted for and the recovery read', async (t) => {
  if (availableParallelism() < 2) {
    t.pass('skipped: the gateway and the generator each need a CPU of their own', { skip: true });
    return;
  }
  // Well below a gateway's maximum: every call is answered and the cool phase is clean at once.
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--runs', '1', '--rate', '600', '--hot-ms', '1000', '--cool-ms', '1000', '--b-server', 'uws-fixed'], { timeout: 120_000 });
  const runs = [...stdout.matchAll(/^run 1\/1 ([AB]): ok (\d+) refused (\d+) timed out (\d+) not sent (\d+); connections accepted (\d+); after: (\d+)\/(\d+) ok, (.+)$/gm)];
  t.same(runs.map((m) => m[1]).sort(), ['A', 'B'], 'one run of each build');
  for (const m of runs) {
    const [ok, refused, timedOut, unsent, accepted, coolOk, coolSent] = m.slice(2, 9).map(Number) as number[];
    t.equal(ok! + refused! + timedOut! + unsent!, 600, `${m[1]}: every call of the 1 s at 600/s is counted once`);
    t.equal(timedOut, 0, `${m[1]}: none timed out`);
    t.ok(accepted! >= 1, `${m[1]}: the generator's connections were counted`);
    t.equal(coolSent, 150, `${m[1]}: the cool phase runs at a quarter of the rate`);
    t.equal(coolOk, 150);
    t.equal(m[9], 'clean after 0 s');
  }
  t.match(stdout, /^A \(.+\): timed out per run 0; runs never clean after the load dropped: 0 of 1$/m);
  t.match(stdout, /^B \(uws-fixed .+\): timed out per run 0; runs never clean after the load dropped: 0 of 1$/m, 'B is the floor, named');
});

t.test('overload-ab refuses a bad flag before starting anything', async (t) => {
  const err = await promisify(execFile)(process.execPath, [script, '--rate', '0'], { timeout: 30_000 }).then(() => undefined, (e: unknown) => e as { code: number; stderr: string });
  t.ok(err, 'it exits non-zero');
  t.match(err!.stderr, /code: 'SLUICE_E_CONFIG_INVALID'/);
  t.match(err!.stderr, /flag: 'rate'/);
  for (const [args, flag] of [[['--quota', 'abc'], 'quota'], [['--runs', '2.5'], 'runs'], [['--b-server', 'nginx'], 'b-server']] as const) {
    const e = await promisify(execFile)(process.execPath, [script, ...args], { timeout: 30_000 }).then(() => undefined, (x: unknown) => x as { stderr: string });
    t.ok(e, `${args.join(' ')} exits non-zero`);
    t.match(e!.stderr, /code: 'SLUICE_E_CONFIG_INVALID'/);
    t.match(e!.stderr, new RegExp(`flag: '${flag}'`));
  }
});
