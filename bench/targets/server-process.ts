// Starts a server under test (Sluice or a baseline) as a child process, optionally pinned with
// taskset and under a CPU quota, and waits for its `listening on http://...` line. Also samples its resident memory
// from /proc, which is how the overload scenario watches for unbounded growth.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { limitCpu } from './cpu-quota.js';

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** Resident set size in MiB (0 once the process is gone). */
  rssMiB(): number;
  /** Everything it printed (for error reports). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerCommand {
  name: string;
  /** Arguments after `node` (script first). */
  args: string[];
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  cpus?: string | undefined;
  /** A CPU quota in cores (cpu-quota.ts): the server runs as if in a container limited to it. */
  cpuLimit?: number | undefined;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

/** CPU microseconds of a process's main thread (tid = pid) and of all its other threads (/proc, 10 ms ticks). */
export function threadCpuUs(pid: number): { main: number; other: number } {
  const out = { main: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const us = (Number(fields[11]) + Number(fields[12])) * 10_000;
    if (Number(tid) === pid) out.main += us;
    else out.other += us;
  }
  return out;
}

export function readRssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export function startServer(cmd: ServerCommand): Promise<ServerProcess> {
  const nodeArgs = [...(cmd.nodeFlags ?? []), ...cmd.args];
  const [bin, argv] = cmd.cpus === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', cmd.cpus, process.execPath, ...nodeArgs]];
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...cmd.env } });
  if (cmd.cpuLimit !== undefined && child.pid !== undefined) child.once('exit', limitCpu(child.pid, cmd.cpuLimit));
  let out = '';
  const keep = (chunk: Buffer) => {
    // Keep the head (startup) and a bounded tail: a server that logs per request must not fill memory.
    out = out.length < 64_000 ? out + chunk.toString() : out.slice(0, 32_000) + out.slice(-16_000) + chunk.toString();
  };
  child.stderr!.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd.name} did not start in time:\n${out}`));
    }, cmd.startTimeoutMs ?? 60_000);
    let listening = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      const m = listening ? null : /listening on (https?:\/\/[0-9.]+:\d+)/.exec(out);
      if (!m) return;
      listening = true;
      clearTimeout(timer);
      resolve({
        name: cmd.name,
        url: m[1]!,
        pid: child.pid!,
        rssMiB: () => readRssMiB(child.pid!),
        output: () => out,
        stop: async (graceMs = 15_000) => {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await waitExit(child);
          clearTimeout(killer);
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`${cmd.name} exited with ${code} before listening:\n${out}`));
    });
  });
}
