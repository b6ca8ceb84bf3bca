import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupCpuLimit, usableCores, type CgroupFiles } from '../../lib/cpu-limit.js';

/** A made-up /proc and cgroup tree: `files` maps paths under the root to their contents. */
function tree(dir: string, cgroup: string, mountinfo: string, files: Record<string, string>): CgroupFiles {
  mkdirSync(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(join(dir, 'cgroup'), cgroup);
  writeFileSync(join(dir, 'mountinfo'), mountinfo);
  return { cgroup: join(dir, 'cgroup'), mountinfo: join(dir, 'mountinfo'), root: dir };
}

const V2_MOUNT = '30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';
const V1_MOUNTS = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '32 30 0:29 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

t.test('cgroup v2: cpu.max of the process cgroup, the smallest quota up the tree binding', async (t) => {
  const dir = t.testdir();
  const half = tree(join(dir, 'a'), '0::/kubepods/pod1/ctr\n', V2_MOUNT, {
    'sys/fs/cgroup/kubepods/cpu.max': 'max 100000\n',
    'sys/fs/cgroup/kubepods/pod1/cpu.max': '50000 100000\n',
    'sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': '150000 100000\n',
  });
  t.equal(cgroupCpuLimit(half), 0.5, 'the pod limit of half a core binds its container');
  const none = tree(join(dir, 'b'), '0::/user.slice\n', V2_MOUNT, { 'sys/fs/cgroup/user.slice/cpu.max': 'max 100000\n' });
  t.equal(cgroupCpuLimit(none), undefined, '"max" is no limit');
});

t.test('cgroup v1: cfs quota over period of the cpu controller, -1 meaning none', async (t) => {
  const dir = t.testdir();
  // The cpu controller's quota and period files of the cgroup at `path` under its mount.
  const cfs = (path: string, quota: number) => ({
    [`sys/fs/cgroup/cpu,cpuacct/${path}cpu.cfs_quota_us`]: `${quota}\n`,
    [`sys/fs/cgroup/cpu,cpuacct/${path}cpu.cfs_period_us`]: '100000\n',
  });
  const files = tree(join(dir, 'a'), '12:cpuset:/\n4:cpu,cpuacct:/docker/abc\n0::/\n', V1_MOUNTS, { ...cfs('', -1), ...cfs('docker/abc/', 25000) });
  t.equal(cgroupCpuLimit(files), 0.25);
  const unlimited = tree(join(dir, 'b'), '4:cpu,cpuacct:/\n', V1_MOUNTS, cfs('', -1));
  t.equal(cgroupCpuLimit(unlimited), undefined);
});

t.test('no cgroup file system to read (not Linux, a sandbox): no limit, no throw', async (t) => {
  const dir = t.testdir();
  t.equal(cgroupCpuLimit({ cgroup: join(dir, 'none'), mountinfo: join(dir, 'none'), root: dir }), undefined);
  const files = tree(join(dir, 'a'), '0::/x\n', V2_MOUNT, {});
  t.equal(cgroupCpuLimit(files), undefined, 'a cgroup without cpu.max files');
});

t.test('threads to start: the host cores, fewer under a quota, rounded up, never 0', async (t) => {
  t.equal(usableCores(undefined, 16), 16, 'no quota');
  t.equal(usableCores(0.5, 16), 1, 'half a core: one thread');
  t.equal(usableCores(2.5, 16), 3);
  t.equal(usableCores(64, 16), 16, 'a quota above the host: the host');
});
