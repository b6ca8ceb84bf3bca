// The latency-vs-throughput chart: one panel per workload, p99 (log scale) against calls/s, one
// line per target through its closed- and open-loop points, and the ORT-alone ceiling as a
// vertical line. Plain SVG text, no chart library.
import type { BenchRun, TargetName } from './types.js';
import type { WorkloadName } from '../workloads.js';

const COLORS: Record<TargetName, string> = { sluice: '#d1495b', 'sluice-ws': '#8f2d56', 'sluice-auth': '#6b2737', naive: '#00798c', 'naive-1t': '#30638e', 'micro-batch': '#edae49', 'uws-fixed': '#66a182' };
const W = 760;
const H = 340;
const M = { left: 70, right: 150, top: 36, bottom: 46 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Round `v` up to 1, 2 or 5 times a power of ten. */
export function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

interface Series {
  target: TargetName;
  /** [calls/s, p99 ms] sorted by calls/s */
  xy: [number, number][];
}

function panel(run: BenchRun, w: WorkloadName, y0: number): string {
  const series: Series[] = [];
  for (const target of Object.keys(COLORS) as TargetName[]) {
    const xy = run.points
      .filter((p) => p.workload === w && p.target === target && p.result.phases[0]!.ok > 0)
      .map((p): [number, number] => [p.result.phases[0]!.throughput, Math.max(0.01, p.result.phases[0]!.latency.p99)])
      .sort((a, b) => a[0] - b[0]);
    if (xy.length) series.push({ target, xy });
  }
  const ceiling = run.ceilings.find((c) => c.workload === w)?.best.inferencesPerSec;
  // uws-fixed answers far faster than any model server; let it run off the chart rather than squash the rest.
  const xs = series.filter((s) => s.target !== 'uws-fixed').flatMap((s) => s.xy.map((p) => p[0]));
  const seriesMax = Math.max(1, ...xs);
  // A ceiling far beyond every server (a tiny MLP runs millions of rows/s in ORT) would squash the
  // points against the axis: it is then named at the right edge instead of drawn.
  const ceilingOnScale = ceiling !== undefined && ceiling <= 3 * seriesMax;
  const xMax = niceCeil(Math.max(seriesMax, ceilingOnScale ? ceiling : 0) * 1.05);
  const ys = series.flatMap((s) => s.xy.map((p) => p[1]));
  const yLo = 10 ** Math.floor(Math.log10(Math.min(1, ...ys)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(10, ...ys)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (Math.min(x, xMax * 1.02) / xMax) * pw;
  const sy = (y: number) => y0 + M.top + ph - ((Math.log10(y) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * ph;
  const out: string[] = [`<text x="${M.left}" y="${y0 + 22}" font-size="15" font-weight="bold">${esc(w)}: p99 latency vs throughput</text>`];
  for (let d = yLo; d <= yHi; d *= 10) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(d)}" y2="${sy(d)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${sy(d) + 4}" text-anchor="end" font-size="11">${d >= 1 ? d : d.toFixed(-Math.log10(d))} ms</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const x = (xMax * i) / 5;
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${y0 + M.top}" y2="${y0 + M.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${sx(x)}" y="${y0 + M.top + ph + 16}" text-anchor="middle" font-size="11">${Math.round(x)}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${y0 + H - 8}" text-anchor="middle" font-size="12">calls/s (closed and open loop points)</text>`);
  out.push(`<rect x="${M.left}" y="${y0 + M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (ceiling !== undefined && !ceilingOnScale) {
    out.push(`<text x="${M.left + pw - 4}" y="${y0 + M.top + 12}" text-anchor="end" font-size="11">ORT alone ${Math.round(ceiling)}/s (off scale)</text>`);
  }
  if (ceiling !== undefined && ceilingOnScale) {
    out.push(`<line x1="${sx(ceiling)}" x2="${sx(ceiling)}" y1="${y0 + M.top}" y2="${y0 + M.top + ph}" stroke="#333" stroke-dasharray="5,4"/>`);
    out.push(`<text x="${sx(ceiling) - 4}" y="${y0 + M.top + 12}" text-anchor="end" font-size="11">ORT alone ${Math.round(ceiling)}/s</text>`);
  }
  series.forEach((s, i) => {
    const c = COLORS[s.target];
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.xy.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of s.xy) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${c}"/>`);
    const ly = y0 + M.top + 10 + i * 18;
    out.push(`<rect x="${W - M.right + 14}" y="${ly - 8}" width="12" height="12" fill="${c}"/>`);
    out.push(`<text x="${W - M.right + 32}" y="${ly + 2}" font-size="12">${esc(s.target)}</text>`);
  });
  return out.join('\n');
}

export function renderSvg(run: BenchRun): string {
  const height = H * run.workloads.length + 24;
  const panels = run.workloads.map((w, i) => panel(run, w, i * H));
  const foot = `<text x="${M.left}" y="${height - 6}" font-size="10" fill="#666">${esc(`${run.startedAt} · ${run.machine.cores} x ${run.machine.cpuModel} · ${run.machine.node} · ${run.machine.onnxruntime}${run.quick ? ' · quick' : ''}`)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${panels.join('\n')}\n${foot}\n</svg>\n`;
}
