// The bound any gateway meets on this machine: ONNX Runtime alone (its best layout, one
// single-threaded session per core) measured twice in one run, once by itself and once while the
// same HTTP calls a gateway would serve are sent, at a given rate, to a server that does nothing
// with them (uws-fixed: reads each body, answers a fixed response). The second figure is what ORT
// can still compute while the calls merely travel: the load generator and the kernel's TCP work on
// both ends share the cores with it. A gateway that must do that transport *and* that compute
// cannot beat it, however little work it adds of its own.
//
//   node dist/bench/ceilings/transport-bound.js [--workload text-direction-binary] [--batch 8] [--ratio 0.85] [--rounds 3] [--duration-ms 6000]
//
// Each round: ORT alone by itself, then ORT alone with the calls at `ratio` x (that round's solo
// rate) per second. Reports both rates, ORT's share under transport, and whether the generator
// kept its schedule (a generator that falls behind would understate the transport's cost).
import { parseArgs } from 'node:util';
import { usageError } from '../options.js';
import { benchRepository, targetCommand } from '../targets/commands.js';
import { runOrtAlone } from './run-ort-alone.js';
import { ortUnderTransport, type UnderTransport } from './under-transport.js';
import { startServer } from '../targets/server-process.js';
import { median } from '../report/summary.js';
import { isWorkloadName, prepareWorkload, type WorkloadName } from '../workloads.js';

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string', default: 'text-direction-binary' },
    batch: { type: 'string', default: '8' },
    ratio: { type: 'string', default: '0.85' },
    rounds: { type: 'string', default: '3' },
    'duration-ms': { type: 'string', default: '6000' },
  },
});

function bad(flag: string, message: string): never {
  throw usageError(flag, `--${flag} ${message}`);
}
const workloadArg = args.workload!;
if (!isWorkloadName(workloadArg)) bad('workload', `names no workload: ${workloadArg}`);
const workload: WorkloadName = workloadArg;
const batch = Number(args.batch);
const ratio = Number(args.ratio);
const rounds = Number(args.rounds);
const durationMs = Number(args['duration-ms']);
if (!(Number.isInteger(batch) && batch > 0)) bad('batch', `takes a whole number of rows above 0, got ${args.batch}`);
if (!(ratio > 0 && ratio < Infinity)) bad('ratio', `takes a number above 0, got ${args.ratio}`);
if (!(Number.isInteger(rounds) && rounds > 0)) bad('rounds', `takes a whole number above 0, got ${args.rounds}`);
if (!(Number.isInteger(durationMs) && durationMs > 0)) bad('duration-ms', `takes milliseconds above 0, got ${args['duration-ms']}`);
const repo = benchRepository(workload);
await prepareWorkload(workload);

/** ORT alone, one single-threaded session per core, at `batch`: inferences/s. */
async function ortAlone(ms: number): Promise<number> {
  const ceiling = await runOrtAlone({ repo, workload, batches: [batch], durationMs: ms, perCoreOnly: true });
  return ceiling.best.inferencesPerSec;
}

interface Round extends UnderTransport {
  solo: number;
  rate: number;
}

const results: Round[] = [];
const fixed = await startServer(targetCommand('uws-fixed', workload, repo, undefined));
try {
  for (let r = 0; r < rounds; r++) {
    const solo = await ortAlone(durationMs);
    const rate = Math.round(ratio * solo);
    const under = await ortUnderTransport({ url: fixed.url, pid: fixed.pid, workload, rate, connections: 256 }, durationMs, () => ortAlone(durationMs));
    const round: Round = { solo, rate, ...under };
    results.push(round);
    console.log(`round ${r + 1}/${rounds}: ORT alone ${solo.toFixed(0)}/s; with ${rate} calls/s in transport ${under.inferencesPerSec.toFixed(0)}/s (${(under.inferencesPerSec / solo).toFixed(3)}); ` +
      `calls ${under.ok}/${under.sent} ok; uws-fixed ${round.serverUsPerCall.toFixed(0)} µs/call, generator ${round.clientUsPerCall.toFixed(0)} µs/call`);
  }
} finally {
  await fixed.stop();
}

const share = median(results.map((r) => r.inferencesPerSec / r.solo));
console.log(`\n${workload}, batch ${batch}, ${rounds} rounds, medians:`);
console.log(`ORT alone ${median(results.map((r) => r.solo)).toFixed(0)}/s; while ${ratio} x that many calls/s travel to a server that does nothing: ${median(results.map((r) => r.inferencesPerSec)).toFixed(0)}/s = ${share.toFixed(3)} of alone`);
console.log(share < ratio
  ? `A gateway doing that transport and that compute tops out below ${ratio} x ORT alone on this machine, before any work of its own.`
  : `The transport leaves room for ${ratio} x ORT alone; what a gateway adds must fit in the rest.`);
