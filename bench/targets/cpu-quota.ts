// Runs a server under test with a CPU quota below one core (a cgroup of its own: v1's cpu
// controller or cgroup v2's cpu.max), the way a container's CPU limit would. On a 2-core machine
// this is how the overload scenario can offer 2x a gateway's capacity: the gateway gets half a core
// and the load generator a whole one, so the client is not what saturates (docs/budgets.md).
// Needs root and a writable cgroup file system; otherwise the bench refuses the flag up front.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SELF, mountOf } from '../../lib/cpu-limit.js';
import { SluiceError } from '../../lib/errors.js';

/** Short enough that a throttled server stalls at most a few ms at a time. */
const PERIOD_US = 10_000;

interface Controller {
  v2: boolean;
  /** Where the bench's cgroups are made. */
  parent: string;
}

function controller(): Controller | undefined {
  let mountinfo: string;
  try {
    mountinfo = readFileSync(SELF.mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  const v1 = mountOf(mountinfo, false);
  if (v1) return { v2: false, parent: v1.point };
  const v2 = mountOf(mountinfo, true);
  let controllers = '';
  try {
    if (v2) controllers = readFileSync(join(v2.point, 'cgroup.controllers'), 'utf8');
  } catch {
    // unreadable: no controller to use
  }
  return v2 && /\bcpu\b/.test(controllers) ? { v2: true, parent: v2.point } : undefined;
}

/** Refuses --server-cpu-limit where no cgroup can be made (not root, no cpu controller). */
export function checkCpuQuota(cores: number): void {
  const why = !(cores > 0 && cores <= 64) ? 'must be more than 0 cores and at most 64' : controller() === undefined ? 'no cgroup cpu controller is mounted' : undefined;
  if (why !== undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--server-cpu-limit ${cores}: ${why}`, { details: { flag: 'server-cpu-limit' } });
}

/** Put `pid` (all its threads) in a new cgroup capped at `cores`; the returned function removes the cgroup once the process is gone. */
export function limitCpu(pid: number, cores: number): () => void {
  const c = controller();
  if (c === undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', 'no cgroup cpu controller is mounted', { details: { flag: 'server-cpu-limit' } });
  const dir = join(c.parent, `sluice-bench-${pid}`);
  mkdirSync(dir);
  const quota = Math.max(1000, Math.round(cores * PERIOD_US));
  try {
    if (c.v2) {
      writeFileSync(join(c.parent, 'cgroup.subtree_control'), '+cpu');
      writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    } else {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    rmdirSync(dir);
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--server-cpu-limit: could not put process ${pid} under a quota in ${dir}: ${(err as Error).message}`, { details: { flag: 'server-cpu-limit' } });
  }
  return () => {
    try {
      rmdirSync(dir);
    } catch {
      // still holding a process (it did not exit): left for the next boot
    }
  };
}
