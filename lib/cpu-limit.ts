// The CPU this process may use under its cgroup's quota (a container's CPU limit: Kubernetes'
// `resources.limits.cpu`, `docker run --cpus`), in cores. The front's lag shedding measures how busy
// the gateway is against it: a gateway limited to half a core is fully busy at 0.5 cores.
// Written by hand: a few lines over two kernel file formats, and no kept package reads them.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';

/** Where the kernel files are (tests point these at a made-up tree). */
export interface CgroupFiles {
  /** /proc/self/cgroup */
  cgroup: string;
  /** /proc/self/mountinfo */
  mountinfo: string;
  /** Prefix for the mount points read from mountinfo ('' on a real system). */
  root: string;
}

export const SELF: CgroupFiles = { cgroup: '/proc/self/cgroup', mountinfo: '/proc/self/mountinfo', root: '' };

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export interface Mount {
  /** The cgroup path mounted there (field 4 of mountinfo). */
  base: string;
  point: string;
}

/** The cgroup2 mount, or the cgroup v1 mount carrying the `cpu` controller. */
export function mountOf(mountinfo: string, v2: boolean): Mount | undefined {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const head = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (v2 ? fstype !== 'cgroup2' : fstype !== 'cgroup' || !superOpts.split(',').includes('cpu')) continue;
    return { base: head[3]!, point: head[4]! };
  }
  return undefined;
}

/** The quotas of `dir` and every ancestor up to the mount point (the smallest one binds). */
function walkUp(mount: Mount, path: string, root: string, quotaAt: (dir: string) => number | undefined): number | undefined {
  const rel = posix.relative(mount.base, path);
  if (rel.startsWith('..')) return undefined;
  let best: number | undefined;
  for (let p = rel; ; p = posix.dirname(p)) {
    const q = quotaAt(join(root, mount.point, p === '.' ? '' : p));
    if (q !== undefined) best = best === undefined ? q : Math.min(best, q);
    if (p === '.' || p === '/' || p === '') break;
  }
  return best;
}

function v2Quota(dir: string): number | undefined {
  const [quota, period] = (read(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  return quota === 'max' || !(q > 0 && p > 0) ? undefined : q / p;
}

function v1Quota(dir: string): number | undefined {
  const q = Number((read(join(dir, 'cpu.cfs_quota_us')) ?? '').trim());
  const p = Number((read(join(dir, 'cpu.cfs_period_us')) ?? '').trim());
  return q > 0 && p > 0 ? q / p : undefined;
}

/**
 * The cores this process may use under its cgroup CPU quota, or undefined when there is none (or
 * no cgroup file system to read: not Linux, or a sandbox). cgroup v2 (`cpu.max`) first, then v1
 * (`cpu.cfs_quota_us` / `cpu.cfs_period_us`).
 */
export function cgroupCpuLimit(files: CgroupFiles = SELF): number | undefined {
  const cgroup = read(files.cgroup);
  const mountinfo = read(files.mountinfo);
  if (cgroup === undefined || mountinfo === undefined) return undefined;
  let limit: number | undefined;
  for (const line of cgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, path] = m as unknown as [string, string, string, string];
    const v2 = id === '0' && controllers === '';
    if (!v2 && !controllers.split(',').includes('cpu')) continue;
    const mount = mountOf(mountinfo, v2);
    if (!mount) continue;
    const q = walkUp(mount, path, files.root, v2 ? v2Quota : v1Quota);
    if (q !== undefined) limit = limit === undefined ? q : Math.min(limit, q);
  }
  return limit;
}

/**
 * Cores worth of threads to start: the CPUs the process may run on, fewer under a CPU quota
 * (rounded up). libuv's availableParallelism ignores the cgroup quota in Node 20 (libuv 1.46), so a
 * gateway limited to half a core would start a compute thread per host core, and they would take
 * the main thread's share of the quota. Where a newer libuv counts the quota, this changes nothing.
 */
export function usableCores(limit = cgroupCpuLimit(), cores = availableParallelism()): number {
  return Math.max(1, limit === undefined ? cores : Math.min(cores, Math.ceil(limit)));
}
