// What forwarding costs a feedback call (docs/feedback.md "Behind a load balancer"): a control
// plane in this process (SQLite) and two `sluice gateway` processes, A and B, synced from it. Each
// round gets one answer from A and one from B, then gives feedback for both on A, in turns: the
// local call (A holds the answer), the forwarded one (B holds it, A sends it on). With caller ids
// the forwarded call also probes B first. Latency of the feedback call alone, one call at a time
// (closed loop, one connection), medians and p90 of each kind in the same run.
//
//   nice -n 10 node dist/bench/feedback/forward.js [--calls 1000] [--caller-ids]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureExampleRepository } from '../../examples/repository.js';
import { withControlPlanes } from '../cluster/local-control-plane.js';
import { freePorts } from '../cluster/ports.js';

const CLI = fileURLToPath(new URL('../../cli/sluice.js', import.meta.url));
const { values } = parseArgs({ options: { calls: { type: 'string', default: '1000' }, 'caller-ids': { type: 'boolean', default: false } } });
const CALLS = Number(values.calls);
const CALLER_IDS = values['caller-ids'] === true;
const BODY = (id?: string) => JSON.stringify({ ...(id === undefined ? {} : { id }), inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 28.9, 14.4, 2.1, 200] }] });

/** Start a gateway; resolves once it logs `listening on` (at info: keep the default log level). */
function startGateway(args: string[]): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [CLI, 'gateway', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 120 s:\n${out}`)), 120_000);
    proc.stdout!.on('data', (c: Buffer) => {
      // Only the start matters; the rest of the log is dropped so a long run does not keep it.
      if (out.length < 65_536) out += c.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => reject(new Error(`gateway exited ${code}:\n${out}`)));
  });
}

async function post(url: string, body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: await res.json() };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-fb-forward-'));
const procs: ChildProcess[] = [];
try {
  await withControlPlanes(async (start) => {
    const cp = await start('sqlite');
    const models = join(dir, 'examples');
    ensureExampleRepository(models);
    await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
    const up = await cp.upload('weather', join(models, 'weather', '1', 'model.onnx'), undefined, { config: readFileSync(join(models, 'weather', 'config.json')) });
    if (up.errors) throw new Error(JSON.stringify(up.errors));
    await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
    const ports = await freePorts(2);
    for (const [i, port] of ports.entries()) {
      const token = await cp.token('gateway', `bench-${i}`);
      procs.push(await startGateway(['--models', join(dir, `gw-${i}`), '--port', String(port), '--name', `bench-${i}`, '--control-plane', cp.url, '--token', token]));
    }
    const [a, b] = ports.map((p) => `http://127.0.0.1:${p}`) as [string, string];
    let n = 0;
    const answer = async (base: string): Promise<{ id: string; label: number }> => {
      const r = await post(`${base}/v2/models/weather/infer`, BODY(CALLER_IDS ? `bench-${n++}` : undefined));
      if (r.status !== 200) throw new Error(`infer ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.id, label: r.body.outputs.find((o: { name: string }) => o.name === 'label').data[0] };
    };
    const give = async (base: string, x: { id: string; label: number }): Promise<number> => {
      const t0 = performance.now();
      const r = await post(`${base}/v2/models/weather/feedback`, JSON.stringify({ id: x.id, label: x.label }));
      const ms = performance.now() - t0;
      if (r.status !== 200) throw new Error(`feedback ${r.status} ${JSON.stringify(r.body)}`);
      return ms;
    };
    // Ready once A forwards to B (B has heartbeated its URL and A has polled the peers since).
    for (const end = Date.now() + 120_000; ; ) {
      const x = await answer(b).catch(() => undefined);
      if (x !== undefined && (await post(`${a}/v2/models/weather/feedback`, JSON.stringify({ id: x.id, label: x.label }))).status === 200) break;
      if (Date.now() > end) throw new Error('gateway A never forwarded to B');
      await new Promise((r) => setTimeout(r, 250));
    }
    const local: number[] = [];
    const forwarded: number[] = [];
    for (let i = 0; i < CALLS + 50; i++) {
      const mine = await answer(a);
      const theirs = await answer(b);
      const l = await give(a, mine);
      const f = await give(a, theirs);
      // The first 50 of each warm connections and the JIT.
      if (i >= 50) {
        local.push(l);
        forwarded.push(f);
      }
    }
    local.sort((x, y) => x - y);
    forwarded.sort((x, y) => x - y);
    const row = (name: string, s: number[]) => `| ${name} | ${s.length} | ${quantile(s, 0.5).toFixed(3)} | ${quantile(s, 0.9).toFixed(3)} |`;
    console.log(`feedback forwarding, ${CALLER_IDS ? 'caller ids (probe + forward)' : 'gateway-made ids'}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log('| feedback call | calls | median ms | p90 ms |\n|---|---|---|---|');
    console.log(row('local (A holds the answer)', local));
    console.log(row('forwarded (B holds it)', forwarded));
    console.log(`forwarded − local, median: ${(quantile(forwarded, 0.5) - quantile(local, 0.5)).toFixed(3)} ms; ratio ${(quantile(forwarded, 0.5) / quantile(local, 0.5)).toFixed(2)}`);
  });
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
