// The control plane under bench/cluster/fleet-sim.ts: a real `sluice control-plane` process (SQLite
// in a temp folder, or a PostgreSQL database), the admin's GraphQL calls that set the registry up,
// and CPU/RSS samples of a process tree read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'sluice.js');
const ADMIN_TOKEN = 'fleet-sim-admin-token-0123456789';

export interface FleetControlPlane {
  url: string;
  pid: number;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Upload `file` as a new version of `model` (multipart, as `sluice upload` does). */
  upload(model: string, file: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startFleetControlPlane(db: string | undefined, cli = CLI): Promise<FleetControlPlane> {
  const data = mkdtempSync(join(tmpdir(), 'sluice-fleet-cp-'));
  const args = [cli, 'control-plane', '--host', '127.0.0.1', '--port', '0', '--data', data, '--log-level', 'info', ...(db ? ['--db', db] : [])];
  const proc = spawn(process.execPath, args, { env: { ...process.env, SLUICE_ADMIN_TOKEN: ADMIN_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await listening(proc);
  const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors || body.data === undefined) throw new Error(`control plane refused: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  return {
    url,
    pid: proc.pid!,
    gql,
    async upload(model, file) {
      const form = new FormData();
      form.set('operations', JSON.stringify({
        query: 'mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { number } }',
        variables: { input: { model, artifact: null, allowDuplicate: true } },
      }));
      form.set('map', JSON.stringify({ 0: ['variables.input.artifact'] }));
      form.set('0', new Blob([readFileSync(file)]), 'model.onnx');
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'graphql-require-preflight': '1' }, body: form });
      const body = (await res.json()) as { errors?: unknown[] };
      if (body.errors) throw new Error(`upload refused: ${JSON.stringify(body.errors)}`);
    },
    async stop() {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(data, { recursive: true, force: true });
    },
  };
}

function listening(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let started = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`control plane did not start in 60 s:\n${out}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      // The output is drained for the process's whole life so that a full pipe never stalls it.
      if (started) return;
      out += chunk.toString();
      const m = /control plane listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        started = true;
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`control plane exited with ${code} before listening:\n${out}`));
    });
  });
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) and RSS bytes of `pid` and, with `children`, of its direct children (PostgreSQL's backends). */
export function processUsage(pid: number, children = false): { cpuSeconds: number; rssBytes: number } {
  const pids = [pid];
  if (children) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = readStat(Number(entry));
      if (stat !== undefined && Number(stat[1]) === pid) pids.push(Number(entry));
    }
  }
  let cpu = 0;
  let rss = 0;
  for (const p of pids) {
    const stat = readStat(p);
    if (stat === undefined) continue;
    // Fields after the command: state(0) ppid(1) ... utime(11) stime(12) ... rss pages(21).
    cpu += (Number(stat[11]) + Number(stat[12])) / TICKS;
    rss += Number(stat[21]) * 4096;
  }
  return { cpuSeconds: cpu, rssBytes: rss };
}

function readStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process ended between the listing and the read
  }
}

/** CPU used between two samples as a share of one core, and the later RSS. */
export class UsageMeter {
  private start: { cpuSeconds: number; rssBytes: number; at: number };
  peakRss = 0;

  constructor(private readonly sample: () => { cpuSeconds: number; rssBytes: number }) {
    this.start = { ...sample(), at: performance.now() };
  }

  /** Sample RSS for the peak (call every second or so). */
  tick(): void {
    this.peakRss = Math.max(this.peakRss, this.sample().rssBytes);
  }

  /** Cores used since construction (or the last restart()) and the RSS now. */
  read(): { cores: number; rssMiB: number; peakRssMiB: number } {
    const now = this.sample();
    this.peakRss = Math.max(this.peakRss, now.rssBytes);
    const seconds = (performance.now() - this.start.at) / 1000;
    return { cores: +((now.cpuSeconds - this.start.cpuSeconds) / seconds).toFixed(2), rssMiB: +(now.rssBytes / 2 ** 20).toFixed(0), peakRssMiB: +(this.peakRss / 2 ** 20).toFixed(0) };
  }

  restart(): void {
    this.start = { ...this.sample(), at: performance.now() };
    this.peakRss = 0;
  }
}
