// Reads V8 .cpuprofile files (node --cpu-prof) and ranks functions by self time: the answer to
// "which stage of the request path is slow". One profile per thread: the gateway's main thread and
// each worker write their own.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** "name (file:line)" */
  fn: string;
  selfMs: number;
  /** Share of the profile's sampled time, 0..100. */
  percent: number;
}

/** "name (file:line)", the file relative to dist/ or node_modules/. */
export function label(f: ProfileNode['callFrame']): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const path = f.url.replace(/^file:\/\//, '');
  const file = path.includes('/node_modules/') ? path.replace(/^.*\/node_modules\//, '') : path.replace(/^.*\/dist\//, '');
  return `${name} (${file}:${f.lineNumber + 1})`;
}

/**
 * Frames that stand for a thread waiting, not working: V8's `(idle)` (event loop asleep) and
 * piscina's `atomicsWaitLoop` (a worker blocked in Atomics.wait for its next task). A worker that
 * spends its time there is starved, which is itself the finding.
 */
const WAITING = new Set(['(idle)', 'atomicsWaitLoop']);

/** Functions by self time, highest first; waiting frames are left out so percentages are of busy time. */
export function topSelfTime(profile: CpuProfile, limit = 15): { busyMs: number; idleMs: number; top: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time *before* sample i; the next delta is how long sample i lasted.
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    if (WAITING.has(node.callFrame.functionName)) {
      idle += dt;
      return;
    }
    busy += dt;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, selfMs]) => ({ fn, selfMs, percent: busy > 0 ? (100 * selfMs) / busy : 0 }));
  return { busyMs: busy, idleMs: idle, top };
}

export function readCpuProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}
