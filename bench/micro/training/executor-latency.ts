// How long the executors take around a trainer, local process group vs a Slurm job, in the same
// run: start to the trainer's first line, cancel to its processes gone (pid probe from /proc), and
// cancel to `done`; plus a trainer that exits at once, start to `done`. Slurm runs on the one-node
// cluster the tests use (bench/cluster/slurm.ts: needs slurm-wlm, munge and root).
//
//   node dist/bench/micro/training/executor-latency.js [--rounds 5]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Executor } from '../../../control-plane/runner/executor.js';
import { LocalExecutor } from '../../../control-plane/runner/executors/local.js';
import { SlurmExecutor } from '../../../control-plane/runner/executors/slurm.js';
import { slurmUnavailable, startSlurm } from '../../cluster/slurm.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(args.rounds);

const running = (pid: number) => {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(executor: Executor) {
  const firstLine: number[] = [];
  const gone: number[] = [];
  const done: number[] = [];
  const quick: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const workDir = mkdtempSync(join(tmpdir(), 'sluice-bench-exec-'));
    try {
      let ready!: () => void;
      const seen = new Promise<void>((r) => (ready = r));
      const spec = { jobId: `bench-${i}`, attempt: 1, env: {}, workDir, labels: [], timeoutSeconds: 120 };
      const t0 = performance.now();
      const exec = await executor.start({ ...spec, command: ['/bin/sh', '-c', 'sleep 1000 & echo $! > child.pid; echo ready; wait'] }, (_, l) => l === 'ready' && ready());
      await seen;
      const t1 = performance.now();
      const child = Number(readFileSync(join(workDir, 'child.pid'), 'utf8'));
      const cancelled = exec.cancel();
      while (running(child)) await new Promise((r) => setTimeout(r, 5));
      const t2 = performance.now();
      await cancelled;
      const t3 = performance.now();
      firstLine.push(t1 - t0);
      gone.push(t2 - t1);
      done.push(t3 - t1);
      const q0 = performance.now();
      await (await executor.start({ ...spec, jobId: `bench-q${i}`, command: ['/bin/true'] }, () => undefined)).done;
      quick.push(performance.now() - q0);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  return { firstLine: median(firstLine), gone: median(gone), done: median(done), quick: median(quick) };
}

const rows: Array<[string, Awaited<ReturnType<typeof measure>>]> = [['local', await measure(new LocalExecutor())]];
const why = slurmUnavailable();
if (why) {
  console.log(`slurm: skipped (${why})`);
} else {
  const cluster = await startSlurm();
  try {
    rows.push(['slurm', await measure(new SlurmExecutor({ slurmConf: cluster.conf, pollIntervalMs: 200 }))]);
  } finally {
    await cluster.stop();
  }
}
console.log(`medians of ${ROUNDS} rounds, ms`);
console.log('executor | start → first line | cancel → processes gone | cancel → done | /bin/true start → done');
for (const [name, r] of rows) console.log(`${name} | ${r.firstLine.toFixed(0)} | ${r.gone.toFixed(0)} | ${r.done.toFixed(0)} | ${r.quick.toFixed(0)}`);
