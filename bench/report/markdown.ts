// The Markdown report of a run: machine, the ratios the issues name, one table per workload, the
// ORT sweep, overload behaviour. Everything is derived from the BenchRun, so old result files can be
// re-rendered.
import { latencyRatios, median, overloadFor, ratios, type Ratio } from './summary.js';
import type { BenchRun, LoadPoint, OrtCeiling } from './types.js';
import { WORKLOADS, type WorkloadName } from '../workloads.js';

/** Fixed-point with `digits` decimals; "–" for missing. */
export function num(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

/** Milliseconds with 3 significant-ish digits: 0.412, 4.12, 41.2, 412. */
export function ms(v: number): string {
  if (v === 0) return '0';
  return v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function pointRow(p: LoadPoint): string[] {
  const r = p.result;
  const ph = r.phases[0]!;
  return [
    p.target,
    p.label,
    num(ph.throughput),
    ms(ph.latency.p50),
    ms(ph.latency.p90),
    ms(ph.latency.p99),
    ms(ph.latency.p999),
    String(ph.ok),
    String(ph.sent - ph.ok),
    `${num(r.clientCpu, 2)}${r.clientLag ? ` / ${ms(r.clientLag.p99)}` : ''}`,
  ];
}

function ceilingSection(c: OrtCeiling): string {
  const layouts = [...new Set(c.points.map((p) => p.layout))];
  const batches = [...new Set(c.points.map((p) => p.batch))];
  const rows = layouts.map((l) => [l, ...batches.map((b) => num(c.points.find((p) => p.layout === l && p.batch === b)?.inferencesPerSec))]);
  return [
    `ORT alone, in-process, inferences/s by batch size (best: **${num(c.best.inferencesPerSec)}** with ${c.best.layout}, batch ${c.best.batch}):`,
    '',
    table(['layout', ...batches.map((b) => `batch ${b}`)], rows),
  ].join('\n');
}

function workloadSection(run: BenchRun, w: WorkloadName): string {
  const parts = [`## ${w}`, ''];
  const c = run.ceilings.find((x) => x.workload === w);
  if (c) parts.push(ceilingSection(c), '');
  const points = run.points.filter((p) => p.workload === w);
  parts.push(
    table(
      ['target', 'load', 'calls/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'ok', 'not ok', 'client CPU cores / timer lag p99 ms'],
      points.map(pointRow),
    ),
  );
  return parts.join('\n');
}

function stagesSection(run: BenchRun): string {
  const rows = run.points
    .filter((p) => p.stages)
    .map((p) => {
      const s = p.stages!;
      const client = p.result.phases[0]!.latency.mean;
      return [p.workload, p.target, p.label, num(s.meanBatch, 1), ms(s.decodeMs), ms(s.queueMs), ms(s.computeMsPerBatch), ms(s.requestMs), ms(client), ms(Math.max(0, client - s.requestMs))];
    });
  if (rows.length === 0) return '';
  return [
    '## Where Sluice spends a call (from its /metrics over each point)',
    '',
    '"outside" = mean latency the client saw minus decode-to-answer inside the gateway: reading and writing HTTP/WS, the event loop, the network.',
    '',
    table(['workload', 'target', 'load', 'rows/batch', 'decode ms', 'queue ms', 'compute ms/batch', 'decoded→answered ms', 'client mean ms', 'outside ms'], rows),
  ].join('\n');
}

/**
 * Issue 20's open-loop bound beside what was measured: Sluice's p99 at each open-loop point against
 * max_queue_delay + 2 x one batch's compute there, and the transport alone (uws-fixed) offered the
 * same rate, whose p99 is the floor no gateway on this machine goes under.
 */
function openLoopSection(run: BenchRun): string {
  const rows = run.points
    .filter((p) => p.target === 'sluice' && p.label.startsWith('open ') && p.stages)
    .map((p) => {
      const delay = run.queueDelayMs?.[p.workload];
      const bound = delay === undefined ? undefined : delay + 2 * p.stages!.computeMsPerBatch;
      const p99 = p.result.phases[0]!.latency.p99;
      const floor = run.points.find((f) => f.workload === p.workload && f.target === 'uws-fixed' && f.label === `${p.label} of sluice`);
      const ideal = run.ideal?.find((i) => i.workload === p.workload && i.label === p.label);
      const idealReads = ideal === undefined || bound === undefined ? '' : ideal.underTransport.p99 <= bound ? ' (meets the bound)' : ' (misses the bound too)';
      return [
        p.workload, p.label, num(p.result.phases[0]!.rate), ms(p99),
        delay === undefined ? '–' : ms(delay), ms(p.stages!.computeMsPerBatch), bound === undefined ? '–' : ms(bound),
        bound === undefined ? '–' : p99 <= bound ? 'met' : 'not met', floor ? ms(floor.result.phases[0]!.latency.p99) : '–',
        ideal === undefined ? '–' : `${ms(ideal.alone.p99)} / ${ms(ideal.underTransport.p99)}${idealReads}`,
      ];
    });
  if (rows.length === 0) return '';
  return [
    '## Open loop: p99 against max_queue_delay + 2 x one batch\'s compute (issue 20)',
    '',
    '"transport alone" = uws-fixed (a fixed answer, no model) offered the same calls/s by the same generator in the same run.',
    '"ideal server" = bench/ceilings/open-loop-ideal.ts at the same rate: real ORT sessions, one FIFO queue, each free instance takes every queued row, no HTTP; alone, then while the same calls travel to uws-fixed. Where it misses the bound beside the transport, no gateway meets it on this machine in this run.',
    '',
    table(['workload', 'load', 'offered /s', 'Sluice p99 ms', 'max_queue_delay ms', 'compute ms/batch', 'bound ms', 'bound', 'transport alone p99 ms', 'ideal server p99 ms: alone / beside the transport'], rows),
  ].join('\n');
}

function roundsSection(run: BenchRun): string {
  const rows: string[][] = [];
  const lone: string[][] = [];
  for (const r of run.rounds ?? []) {
    for (const s of r.series) {
      if (r.connections === 1) {
        lone.push([r.workload, s.target, ms(median(s.p50s)), ms(Math.min(...s.p50s)), ms(Math.max(...s.p50s)), s.p50s.map((x) => ms(x)).join(', ')]);
      } else {
        rows.push([r.workload, s.target, num(s.median), num(Math.min(...s.throughputs)), num(Math.max(...s.throughputs)), s.throughputs.map((x) => num(x)).join(', ')]);
      }
    }
  }
  const out: string[] = [];
  if (rows.length > 0) {
    out.push(
      `## Interleaved rounds at ${run.rounds!.find((r) => r.connections !== 1)!.connections} connections (what the ratios use)`,
      '',
      'All servers run at once and take turns, round after round; ORT alone is measured in every round at its best batch size. ort-under-transport: ORT alone again, while that round\'s Sluice rate of calls travels to uws-fixed (issue 20\'s transport bound).',
      '',
      table(['workload', 'target', 'median /s', 'min', 'max', 'per round'], rows),
    );
  }
  if (lone.length > 0) {
    out.push(
      '',
      '## Interleaved rounds at 1 connection (the latency ratios)',
      '',
      'Sluice and the naive servers take turns at one connection, round after round; each latency ratio is the median of the per-round ratios of p50s.',
      '',
      table(['workload', 'target', 'median p50 ms', 'min', 'max', 'per round'], lone),
    );
  }
  return out.join('\n');
}

function overloadSection(run: BenchRun): string {
  const rows: string[][] = [];
  for (const w of run.workloads) {
    for (const target of ['sluice', 'sluice-ws', 'sluice-auth', 'naive', 'naive-1t', 'micro-batch', 'uws-fixed'] as const) {
      const o = overloadFor(run, w, target);
      if (!o) continue;
      const [hot, cool] = o.result.phases;
      const rss = o.rss.map((s) => s.rssMiB);
      rows.push([
        w,
        target,
        num(o.maxRate),
        String(hot!.sent),
        String(hot!.ok),
        String(hot!.refused),
        String(hot!.expired),
        String(hot!.timedOut),
        String(hot!.failed),
        String(hot!.unsent),
        ms(hot!.latency.p99),
        rss.length ? `${num(rss[0], 0)} → ${num(Math.max(...rss), 0)} → ${num(rss[rss.length - 1], 0)}` : '–',
        cool ? `${cool.ok}/${cool.sent} ok, p99 ${ms(cool.latency.p99)}` : '–',
        o.recoverySeconds === null ? 'not within the run' : `${o.recoverySeconds} s`,
        `${num(o.result.clientCpu, 2)} / ${o.result.clientLag ? ms(o.result.clientLag.p99) : '–'}`,
      ]);
    }
  }
  if (rows.length === 0) return '';
  const images = [...new Set(run.overload.filter((o) => WORKLOADS[o.workload].encoding === 'png').map((o) => `\`${o.workload}\``))];
  const noDeadline = images.length === 0 ? '' : ` A raw image body has no \`parameters\`, so ${images.join(', ')} calls carry no deadline: for them only the client's wait applies.`;
  return [
    '## Overload: 2x the measured maximum, then 0.5x',
    '',
    `Every call carries a ${run.overload[0]?.deadlineMs ?? '?'} ms deadline (\`parameters.timeout_us\`); "timed out" = no answer ${run.overload[0]?.graceMs ?? 1000} ms after it; "not sent" = the generator's ${run.overload[0]?.result.connections ?? '?'}-connection cap was exhausted until the deadline.${noDeadline}`,
    '',
    table(['workload', 'target', 'max/s', 'sent at 2x', 'ok', 'refused', '504 at deadline', 'timed out', 'failed', 'not sent', 'p99 admitted ms', 'RSS MiB start → max → end', 'at 0.5x', 'recovered after', 'client CPU / lag p99 ms'], rows),
  ].join('\n');
}

function targetText(r: Ratio): string {
  if (r.target === undefined) return '';
  const met = r.value === null ? '' : (r.atMost ? r.value <= r.target : r.value >= r.target) ? '(met)' : '(missed)';
  return `${r.atMost ? '≤' : '≥'} ${r.target} ${met}`;
}

export function renderMarkdown(run: BenchRun): string {
  const m = run.machine;
  const head = [
    `# Sluice benchmark, ${run.startedAt}${run.quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${m.cores} x ${m.cpuModel} (${m.availableParallelism} available), ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; ${m.onnxruntime}; ${m.uws}; ${m.fastify}; commit ${m.gitCommit}; load average at start ${num(m.loadAverage, 2)}.`,
    `Placement: ${run.placement.mode}${run.placement.mode === 'split' ? ` (servers on CPUs ${run.placement.serverCpus}, load generator on ${run.placement.clientCpus})` : ' (servers and load generator share all cores)'}; ${run.placement.generators} load generator process(es).${run.placement.serverCpuLimit ? ` Every server ran under a CPU quota of ${run.placement.serverCpuLimit} cores (--server-cpu-limit).` : ''}`,
    '',
    `## Ratios (closed loop, 64 connections${run.rounds?.length ? ', medians of the interleaved rounds' : ''})`,
    '',
    table(
      ['workload', 'ratio', 'measured', 'target (issue 3; issue 20: 1 connection, uws-fixed)'],
      [...ratios(run), ...latencyRatios(run)].map((r) => [r.workload, r.name, num(r.value, 2), targetText(r)]),
    ),
  ];
  const sections = run.workloads.map((w) => workloadSection(run, w));
  const over = [stagesSection(run), openLoopSection(run), roundsSection(run), overloadSection(run)].filter((s) => s !== '').join('\n\n');
  const notes = run.notes.length ? ['## Notes', '', ...run.notes.map((n) => `- ${n}`)] : [];
  return `${[...head, '', ...sections.flatMap((s) => [s, '']), over, '', ...notes].join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
