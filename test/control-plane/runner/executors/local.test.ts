// The local executor runs real processes: a trainer and the children it starts, in their own group.
import t from 'tap';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { LocalExecutor } from '../../../../control-plane/runner/executors/local.js';
import { LineSplitter } from '../../../../control-plane/runner/executors/lines.js';
import type { ExecutionSpec } from '../../../../control-plane/runner/executor.js';

const NODE = process.execPath;

function spec(workDir: string, command: string[], over: Partial<ExecutionSpec> = {}): ExecutionSpec {
  return { jobId: 'job-1', attempt: 1, command, env: { SLUICE_JOB_ID: 'job-1', SLUICE_ATTEMPT: '1' }, workDir, labels: [], timeoutSeconds: 60, ...over };
}

function collector() {
  const lines: Array<[string, string]> = [];
  const waiters: Array<{ match: string; resolve: () => void }> = [];
  return {
    lines,
    onLine: (stream: 'stdout' | 'stderr', line: string) => {
      lines.push([stream, line]);
      for (const w of waiters.filter((x) => x.match === line)) w.resolve();
    },
    seen(match: string): Promise<void> {
      if (lines.some(([, l]) => l === match)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** A process runs when /proc has it and it is not a zombie (an orphan pid 1 has not reaped yet). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

t.test('the trainer sees exactly the spec environment plus PATH and HOME, in its work folder', async (t) => {
  const dir = realpathSync(t.testdir());
  const c = collector();
  const env = { SLUICE_DATASET: '/data/x.csv', SLUICE_PARAMS: '{"epochs":3}', SLUICE_PARAM_EPOCHS: '3', SLUICE_MODEL: 'weather' };
  const exec = await new LocalExecutor().start(
    spec(dir, [NODE, '-e', 'console.log(JSON.stringify({ env: process.env, cwd: process.cwd() }))'], { env }),
    c.onLine,
  );
  t.match(exec.handle, /^pid:\d+$/);
  t.same(await exec.done, { outcome: 'exited', exitCode: 0 });
  const seen = JSON.parse(c.lines[0]![1]);
  // tap's coverage hook (@tapjs/processinfo) adds its own variables to every child it sees spawned.
  for (const k of Object.keys(seen.env)) if (k.startsWith('_TAPJS_PROCESSINFO_') || (k === 'NODE_OPTIONS' && seen.env[k].includes('@tapjs/processinfo'))) delete seen.env[k];
  t.equal(seen.cwd, dir);
  t.same(Object.keys(seen.env).sort(), [...Object.keys(env), 'HOME', 'PATH'].sort());
  t.same({ ...seen.env, PATH: undefined, HOME: undefined }, { ...env, PATH: undefined, HOME: undefined });
  t.equal(seen.env.PATH, process.env.PATH);
});

t.test('lines stream in order per stream, split across chunks and UTF-8 characters, and the exit code comes back', async (t) => {
  const dir = t.testdir();
  // "é" is two bytes; the script writes its first byte, waits, then the rest, then a last line without newline.
  const script = `
    const w = (s, b) => new Promise((r) => s.write(b, r));
    const pause = () => new Promise((r) => setTimeout(r, 30));
    (async () => {
      await w(process.stdout, '{"epoch":1,"loss":0.5}\\nhalf');
      await pause();
      await w(process.stdout, Buffer.from([0x20, 0xc3]));
      await pause();
      await w(process.stdout, Buffer.from([0xa9, 0x0a]));
      await w(process.stderr, 'warning one\\r\\nwarning two\\n');
      await w(process.stdout, 'no newline at the end');
      process.exit(3);
    })();`;
  const c = collector();
  const exec = await new LocalExecutor().start(spec(dir, [NODE, '-e', script]), c.onLine);
  t.same(await exec.done, { outcome: 'exited', exitCode: 3 });
  t.same(c.lines.filter(([s]) => s === 'stdout').map(([, l]) => l), ['{"epoch":1,"loss":0.5}', 'half é', 'no newline at the end']);
  t.same(c.lines.filter(([s]) => s === 'stderr').map(([, l]) => l), ['warning one', 'warning two']);
});

t.test('a very long line is cut to the bound with the dropped length named', async (t) => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), 10);
  s.push(Buffer.from('0123456'));
  s.push(Buffer.from('789abcdef\nshort\n'));
  s.push(Buffer.from('tail'));
  s.end();
  t.same(lines, ['0123456789 […6 more characters dropped]', 'short', 'tail']);
});

t.test('cancel kills the trainer and a child that would outlive it, and resolves cancelled', async (t) => {
  const dir = t.testdir();
  const c = collector();
  const exec = await new LocalExecutor().start(spec(dir, ['/bin/sh', '-c', 'sleep 1000 & echo $! > child.pid; echo ready; wait']), c.onLine);
  await c.seen('ready');
  const leader = Number(exec.handle.slice('pid:'.length));
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  t.ok(running(leader) && running(child), 'both run before the cancel');
  await exec.cancel();
  t.same(await exec.done, { outcome: 'cancelled' });
  t.notOk(running(leader), 'the trainer is gone');
  t.notOk(running(child), 'its child is gone');
  await exec.cancel();
  t.same(await exec.done, { outcome: 'cancelled' }, 'a second cancel changes nothing');
});

t.test('a trainer that ignores SIGTERM is killed after the grace period', async (t) => {
  const dir = t.testdir();
  const c = collector();
  const exec = await new LocalExecutor({ killGraceMs: 200 }).start(
    spec(dir, ['/bin/sh', '-c', "trap '' TERM; sleep 1000 & echo $! > child.pid; echo ready; wait; wait"]),
    c.onLine,
  );
  await c.seen('ready');
  const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  await exec.cancel();
  t.same(await exec.done, { outcome: 'cancelled' });
  t.notOk(running(child));
});

t.test('past its timeout the whole group is killed and the attempt is timed-out', async (t) => {
  const dir = t.testdir();
  const exec = await new LocalExecutor({ killGraceMs: 200 }).start(
    spec(dir, ['/bin/sh', '-c', 'sleep 1000 & echo $! > child.pid; wait'], { timeoutSeconds: 0.5 }),
    () => undefined,
  );
  t.same(await exec.done, { outcome: 'timed-out' });
  t.notOk(running(Number(readFileSync(join(dir, 'child.pid'), 'utf8'))));
});

t.test('children a trainer leaves behind are stopped before done resolves, and its exit code stands', async (t) => {
  const dir = t.testdir();
  const exec = await new LocalExecutor({ killGraceMs: 200 }).start(spec(dir, ['/bin/sh', '-c', 'sleep 1000 & echo $! > child.pid; exit 0']), () => undefined);
  t.same(await exec.done, { outcome: 'exited', exitCode: 0 });
  t.notOk(running(Number(readFileSync(join(dir, 'child.pid'), 'utf8'))));
  await exec.cancel();
  t.same(await exec.done, { outcome: 'exited', exitCode: 0 }, 'cancel after the end changes nothing');
});

t.test('a trainer killed by a signal the executor did not send is reported killed', async (t) => {
  const dir = t.testdir();
  const exec = await new LocalExecutor().start(spec(dir, ['/bin/sh', '-c', 'kill -KILL $$']), () => undefined);
  t.same(await exec.done, { outcome: 'killed', signal: 'SIGKILL' });
});

t.test('an attempt that cannot start is refused with SLUICE_E_TRAINING_START', async (t) => {
  const dir = t.testdir({ 'not-executable.sh': 'echo hi' });
  const executor = new LocalExecutor();
  await t.rejects(executor.start(spec(dir, [join(dir, 'no-such-trainer')]), () => undefined), { code: 'SLUICE_E_TRAINING_START' });
  await t.rejects(executor.start(spec(dir, [join(dir, 'not-executable.sh')]), () => undefined), { code: 'SLUICE_E_TRAINING_START' });
  await t.rejects(executor.start(spec(join(dir, 'missing'), ['/bin/true']), () => undefined), { code: 'SLUICE_E_TRAINING_START' });
  await t.rejects(executor.start(spec(dir, []), () => undefined), { code: 'SLUICE_E_TRAINING_START' });
  await t.rejects(executor.start(spec(dir, ['/bin/true'], { timeoutSeconds: 0 }), () => undefined), { code: 'SLUICE_E_TRAINING_START' });
  t.notOk(existsSync(join(dir, 'missing')));
});
