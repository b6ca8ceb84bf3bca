// One allocation measurement (bench/profile/alloc-per-call.ts runs it as its own process): a
// gateway built from --root, in this process, takes closed-loop warm-up and then open-loop calls
// from a load generator process while V8's sampling heap profiler counts what this process
// allocates, freed objects included. Prints one JSON line: calls answered, sampled bytes and the
// functions that allocated them. The gateway runs in process so the profiler sees it; its
// module comes from --root so two builds can be compared by the same harness.
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateLoad } from '../load/spawn-generator.js';
import { benchRepository } from '../targets/commands.js';
import { isWorkloadName } from '../workloads.js';
import { selfBytes, type HeapProfile } from './heap-profile.js';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    workload: { type: 'string', default: 'weather-json' },
    rate: { type: 'string', default: '5000' },
    'duration-ms': { type: 'string', default: '3000' },
    'sampling-bytes': { type: 'string', default: '1024' },
  },
});
const workload = values.workload!;
if (!isWorkloadName(workload)) throw new Error(`unknown workload ${workload}`);
const root = values.root!;
const rate = Number(values.rate);
const durationMs = Number(values['duration-ms']);

const { startGateway } = (await import(pathToFileURL(join(root, 'dist', 'gateway', 'index.js')).href)) as typeof import('../../gateway/index.js');
const { createLogger } = (await import(pathToFileURL(join(root, 'dist', 'lib', 'log.js')).href)) as typeof import('../../lib/log.js');
// The CLI's defaults for the two options it always passes (64 MiB bodies, 10 s drain).
const gateway = await startGateway({
  host: '127.0.0.1', port: 0, modelRepository: benchRepository(workload), maxBodyBytes: 64 * 1024 * 1024, drainTimeoutMs: 10_000, logger: createLogger('alloc', 'silent'),
});
try {
  // Warm: JIT, the batcher's learned costs, pools.
  await generateLoad({ target: gateway.url, workload, variants: 64, mode: 'closed', connections: 64, warmupMs: 1000, durationMs: 2000, timeoutMs: 5000 }, { processes: 1 });
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(values['sampling-bytes']),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const r = await generateLoad(
    { target: gateway.url, workload, variants: 64, mode: 'open', connections: 1024, warmupMs: 0, durationMs, timeoutMs: 10_000, phases: [{ rate, durationMs }] },
    { processes: 1 },
  );
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: HeapProfile };
  session.disconnect();
  const { total, byFunction } = selfBytes(profile);
  const ok = r.phases[0]!.ok;
  process.stdout.write(`${JSON.stringify({ ok, sent: r.phases[0]!.sent, bytes: total, top: byFunction.slice(0, 25) })}\n`);
} finally {
  await gateway.close();
}
