// `node dist/bench/gpu/run.js [bench flags]`: Sluice on CUDA beside ONNX Runtime alone on CUDA, on a
// GPU host with onnxruntime-node's CUDA provider installed (README "ONNX Runtime on a GPU"). For
// each workload: ORT alone, one CUDA session, at each batch size; then `sluice gateway` serving the
// model with execution_providers ["cuda"] and require_provider (a CPU fallback would fail the load,
// not measure the wrong thing) at 1 and 64 connections, closed loop; the ratio Sluice / ORT's best
// is in the report's ratio table. Writes bench/results/<date>-gpu.{json,md,svg} like `npm run bench`.
// Where no CUDA session can be created it stops at once with ONNX Runtime's reason (exit 3).
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { probeProvider } from '../../gateway/workers/provider-probe.js';
import type { BenchOptions } from '../options.js';
import { runBenchEntry } from '../entry.js';
import { benchRepository, ROOT, targetCommand } from '../targets/commands.js';
import { startServer } from '../targets/server-process.js';
import { generateLoad } from '../load/spawn-generator.js';
import { runOrtAlone } from '../ceilings/run-ort-alone.js';
import { describeMachine } from '../machine.js';
import { resultStem, writeResults } from '../report/files.js';
import { WORKLOADS, type WorkloadName } from '../workloads.js';
import type { BenchRun, LoadPoint } from '../report/types.js';

/** SLUICE_BENCH_GPU_DEVICE picks the GPU (default 0). */
const DEVICE = Number(process.env.SLUICE_BENCH_GPU_DEVICE ?? 0);
const CONNECTIONS = [1, 64];
export const NO_CUDA_EXIT = 3;

/** The bench repository of the workload's model with a config that runs it on CUDA or fails. */
function gpuRepository(workload: WorkloadName): string {
  const model = WORKLOADS[workload].model;
  const cpu = benchRepository(workload);
  const repo = join(ROOT, '.sluice', 'bench', `gpu-${model}`);
  rmSync(repo, { recursive: true, force: true });
  mkdirSync(repo, { recursive: true });
  cpSync(join(cpu, model), join(repo, model), { recursive: true });
  const file = join(repo, model, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  // instances and preferred batch sizes: the GPU defaults (config.ts CUDA_DEFAULTS) unless the model sets them.
  delete config.instances;
  writeFileSync(file, JSON.stringify({ ...config, execution_providers: ['cuda'], require_provider: true, device_id: DEVICE }, null, 2));
  return repo;
}

async function measureSluice(o: BenchOptions, workload: WorkloadName, repo: string, run: BenchRun, log: (l: string) => void): Promise<void> {
  const server = await startServer(targetCommand('sluice', workload, repo, o.placement.serverCpus));
  try {
    for (const connections of CONNECTIONS) {
      const result = await generateLoad({
        target: server.url, workload, variants: 64, mode: 'closed', connections,
        warmupMs: o.warmupMs, durationMs: o.durationMs, timeoutMs: o.timeoutMs, transport: 'http', headers: {},
      }, { cpus: o.placement.clientCpus, processes: o.placement.generators });
      const p = result.phases[0]!;
      log(`  ${workload} sluice (cuda:${DEVICE}) closed ${connections}: ${p.throughput.toFixed(0)}/s p50=${p.latency.p50.toFixed(2)}ms p99=${p.latency.p99.toFixed(2)}ms`);
      run.points.push({ workload, target: 'sluice', label: `closed ${connections}`, result } satisfies LoadPoint);
    }
  } finally {
    await server.stop();
  }
}

runBenchEntry('bench/gpu', async (o) => {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  ort.env.logLevel = 'fatal'; // a failed probe is reported below with ORT's reason, not as its log line
  const probe = await probeProvider('cuda', DEVICE);
  if (!probe.ok) {
    process.stderr.write(
      `bench/gpu: no CUDA provider loads here (device ${DEVICE}), nothing measured.\n` +
        `  ONNX Runtime: ${probe.error}\n` +
        `  onnxruntime-node ships ${probe.bundled ? 'a' : 'no'} CUDA provider library; run \`sluice doctor\` and see README "ONNX Runtime on a GPU".\n`,
    );
    return NO_CUDA_EXIT;
  }
  const run: BenchRun = {
    startedAt: new Date().toISOString(), finishedAt: '', quick: o.quick, machine: describeMachine(),
    placement: { mode: o.placement.mode, serverCpus: o.placement.serverCpus ?? null, clientCpus: o.placement.clientCpus ?? null, generators: o.placement.generators },
    workloads: o.workloads, ceilings: [], points: [], overload: [],
    notes: [`GPU run on CUDA device ${DEVICE}: ORT alone is one CUDA session; Sluice serves execution_providers ["cuda"] with require_provider and the GPU defaults (config.ts CUDA_DEFAULTS)`],
  };
  for (const workload of o.workloads) {
    const repo = gpuRepository(workload);
    const ceiling = await runOrtAlone({ repo, workload, batches: o.ceilingBatches[workload], durationMs: o.ceilingMs, cpus: o.placement.serverCpus, cudaDevice: DEVICE });
    run.ceilings.push(ceiling);
    log(`${workload}: ORT alone on cuda:${DEVICE} best ${ceiling.best.inferencesPerSec.toFixed(0)} inferences/s (batch ${ceiling.best.batch})`);
    await measureSluice(o, workload, repo, run, log);
  }
  run.finishedAt = new Date().toISOString();
  const outDir = resolve(ROOT, o.outDir);
  mkdirSync(outDir, { recursive: true });
  const stem = `${resultStem(new Date(), o.quick)}-gpu`;
  log(`\n${writeResults(outDir, stem, run)}`);
  log(`results: ${join(o.outDir, stem)}.{json,md,svg}`);
  return 0;
});
