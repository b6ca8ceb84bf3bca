import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { checkCpuQuota, limitCpu } from '../../../bench/targets/cpu-quota.js';
import { cgroupCpuLimit } from '../../../lib/cpu-limit.js';

let why: string | undefined;
try {
  checkCpuQuota(0.5);
} catch (err) {
  why = (err as Error).message;
}

t.test('a process put under --server-cpu-limit 0.5 reads a quota of half a core, and the cgroup goes with it', { skip: why === undefined ? false : `no writable cgroup cpu controller here: ${why}` }, async (t) => {
  // The child reports the limit it sees through lib/cpu-limit.ts, as the gateway's lag monitor does.
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { cgroupCpuLimit } from ${JSON.stringify(new URL('../../../lib/cpu-limit.js', import.meta.url).href)};
    process.stdin.once('data', () => { console.log(JSON.stringify(cgroupCpuLimit() ?? null)); process.exit(0); });
  `], { stdio: ['pipe', 'pipe', 'inherit'] });
  let release: () => void;
  try {
    release = limitCpu(child.pid!, 0.5);
  } catch (err) {
    // A cgroup file system this process may read but not change (a container's own cgroup).
    child.kill();
    t.pass("a cgroup could not be made here", { skip: (err as Error).message });
    return;
  }
  const dir = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
  t.match(dir, new RegExp(`sluice-bench-${child.pid}`), 'the child is in its own cgroup');
  const out = new Promise<string>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(b.toString())));
  child.stdin!.write('go\n');
  t.equal(JSON.parse(await out), 0.5, 'the child reads its quota as 0.5 cores');
  await new Promise((resolve) => child.once('exit', resolve));
  release();
  t.notOk(existsSync(`/sys/fs/cgroup/cpu/sluice-bench-${child.pid}`) || existsSync(`/sys/fs/cgroup/sluice-bench-${child.pid}`), 'removed once the process is gone');
  t.equal(cgroupCpuLimit() === 0.5, false, 'this process is not limited');
});
