// Micro-benchmark: the main-thread CPU that tracing adds to a call, in nanoseconds of process CPU
// time (other processes on the shared machine do not inflate it), median of rounds. Per call: the
// trace begun from a caller's-less request, its stage stamps, its spans made after the answer, and
// one batch span per 8 calls; every 100 / ratio calls the spans are flushed, so the OTLP protobuf
// serialization and the HTTP export to a local receiver that discards them are counted too.
// Baseline, in the same run: the same loop with tracing off (what the hot path then does: test
// for an undefined trace).
//
//   node dist/bench/micro/tracing/call-trace.js [--ms 300] [--rounds 5]
import { microOptions } from '../cpu-timer.js';
import { median } from '../../report/summary.js';
import { startOtlpSink } from '../../targets/otlp-sink.js';
import { Tracing, type CallTrace } from '../../../gateway/tracing/tracing.js';

const { ms: MS, rounds: ROUNDS } = microOptions();
const BATCH = 8;
/**
 * Calls between flushes at ratio 1: their spans (~4.5 per call) fit one export request (the SDK's
 * 512). At ratio r, 100 / r calls: each export carries as many spans as at ratio 1, as the
 * gateway's once-a-second exports do at its rates, so the export's fixed cost is not overcounted.
 */
const CHUNK_AT_1 = 100;
const sink = await startOtlpSink();

/** ns of process CPU per call of `call`, flushing every CHUNK calls, until MS of CPU has passed. */
async function nsPerCall(tracing: Tracing | undefined): Promise<number> {
  const CHUNK = Math.round(CHUNK_AT_1 / Math.max(tracing?.sampleRatio ?? 1, 0.01));
  const batch: (CallTrace | undefined)[] = [];
  const call = (): void => {
    const now = performance.now();
    const t = tracing === undefined ? undefined : tracing.begin('', '', 'weather', now);
    if (t !== undefined && t.sampled) {
      t.version = '1';
      t.decodeStart = now;
      t.decodeEnd = now + 0.01;
      t.enqueuedAt = now + 0.02;
      t.dispatchedAt = now + 0.2;
      t.batchRows = BATCH;
      t.batchCalls = BATCH;
    }
    batch.push(t);
    if (batch.length === BATCH) {
      if (tracing !== undefined && batch.some((b) => b?.sampled === true)) {
        tracing.batch(batch, { model: 'weather', version: '1', rows: BATCH, assembleStart: now, assembleEnd: now + 0.01, end: now + 0.1, computeSeconds: 0.00005 });
      }
      batch.length = 0;
    }
    if (t !== undefined) {
      t.encodeStart = now + 0.3;
      t.encodeEnd = now + 0.31;
      t.tracing.finish(t);
    }
  };
  for (let i = 0; i < 50_000; i++) {
    call();
    if (i % CHUNK === 0) await tracing?.flush();
  }
  const start = process.cpuUsage();
  let ops = 0;
  let used = 0;
  while (used < MS * 1000) {
    for (let i = 0; i < CHUNK; i++) call();
    ops += CHUNK;
    await tracing?.flush();
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  return (used * 1000) / ops;
}

const variants: [string, Tracing | undefined][] = [
  ['tracing off', undefined],
  ['tracing at 1%', new Tracing({ endpoint: sink.url, sampleRatio: 0.01, maxQueueSize: 1_000_000 })],
  ['tracing at 100%', new Tracing({ endpoint: sink.url, sampleRatio: 1, maxQueueSize: 1_000_000 })],
];
const results = variants.map(() => [] as number[]);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, [, tracing]] of variants.entries()) results[i]!.push(await nsPerCall(tracing));
}
for (const [i, [label]] of variants.entries()) {
  const xs = results[i]!;
  console.log(`${label}: ${median(xs).toFixed(0)} ns per call (median of ${ROUNDS} rounds; ${xs.map((x) => x.toFixed(0)).join(', ')})`);
}
console.log(`OTLP exports received (and discarded): ${sink.exports()}`);
for (const [, tracing] of variants) await tracing?.close();
await sink.close();
