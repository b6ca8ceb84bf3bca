// Fleet-wide figures of a model's versions over a time range: what alert rules are evaluated on.
// Every figure sums what every gateway reported in the windows the control plane received in the
// range (selected by receive time, like rollout analysis, so clock skew between gateways does not
// drop or double-count a window). Definitions (docs/alerts.md repeats them):
// - errorRate = Σ errors / Σ calls (null with no calls);
// - p99Ms = the upper bound (ms) of the LATENCY_BUCKETS_MS bucket that holds the 99th percentile of
//   the merged histogram; the overflow bucket answers the last bound (the true value is at least that);
// - accuracy = Σ correct / Σ count of the feedback rows; mae = Σ |error| / Σ count and
//   rmse = √(Σ error² / Σ count) (null with no feedback);
// - drift[feature].psi = the rows-weighted mean, over the gateways, of each gateway's latest
//   snapshot of the feature in the range, leaving out snapshots below the version's min_rows
//   (level null) or with no PSI; `gateways` says how many it came from; `level` is the worst
//   (alert > warn > ok) of those snapshots' levels.
import { LATENCY_BUCKETS_MS, type WireDriftSnapshot, type WireFeedbackStats } from '../../lib/sync-wire.js';
import { fleetAttribution, fleetSlices, type ExplainedWindow, type FleetAttribution, type FleetSlice } from './explained-figures.js';

export interface FleetDrift {
  feature: string;
  /** Rows-weighted mean PSI of the gateways' latest snapshots. */
  psi: number;
  /** Rows behind it, summed over those snapshots. */
  rows: number;
  gateways: number;
  /** The worst level of those snapshots: alert, warn or ok. */
  level: 'ok' | 'warn' | 'alert';
}

const LEVEL_RANK = { ok: 0, warn: 1, alert: 2 } as const;

export interface VersionFigures {
  model: string;
  version: number;
  /** Gateways that reported the version in the range. */
  gateways: number;
  calls: number;
  errors: number;
  errorRate: number | null;
  p99Ms: number | null;
  feedbackCount: number;
  feedbackCorrect: number;
  accuracy: number | null;
  mae: number | null;
  rmse: number | null;
  drift: FleetDrift[];
  /** Attribution of sampled calls and per-slice figures (issue 22, services/explained-figures.ts). */
  attribution: FleetAttribution | null;
  slices: FleetSlice[];
}

/** One stored window, decoded. */
export interface FigureWindow extends ExplainedWindow {
  gateway: string;
  version: number;
  calls: number;
  errors: number;
  latency: number[];
  feedback: WireFeedbackStats | null;
  drift: WireDriftSnapshot[] | null;
}

interface Accumulator {
  gateways: Set<string>;
  calls: number;
  errors: number;
  latency: number[];
  count: number;
  correct: number;
  absError: number;
  squaredError: number;
  /** feature → gateway → its latest usable snapshot */
  drift: Map<string, Map<string, WireDriftSnapshot>>;
}

/** The figures per version (ascending) of `windows`, given oldest first (later snapshots replace earlier ones). */
export function fleetFigures(model: string, windows: readonly FigureWindow[]): VersionFigures[] {
  const byVersion = new Map<number, Accumulator>();
  for (const w of windows) {
    let a = byVersion.get(w.version);
    if (!a) {
      a = { gateways: new Set(), calls: 0, errors: 0, latency: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0), count: 0, correct: 0, absError: 0, squaredError: 0, drift: new Map() };
      byVersion.set(w.version, a);
    }
    a.gateways.add(w.gateway);
    a.calls += w.calls;
    a.errors += w.errors;
    for (let i = 0; i < a.latency.length && i < w.latency.length; i++) a.latency[i]! += w.latency[i]!;
    if (w.feedback) {
      a.count += w.feedback.count;
      a.correct += w.feedback.correct;
      a.absError += w.feedback.absError;
      a.squaredError += w.feedback.squaredError;
    }
    for (const d of w.drift ?? []) {
      if (d.level === null || d.psi === null) continue;
      let perGateway = a.drift.get(d.feature);
      if (!perGateway) a.drift.set(d.feature, (perGateway = new Map()));
      perGateway.set(w.gateway, d);
    }
  }
  return [...byVersion.entries()]
    .sort(([x], [y]) => x - y)
    .map(([version, a]) => ({
      model,
      version,
      gateways: a.gateways.size,
      calls: a.calls,
      errors: a.errors,
      errorRate: a.calls > 0 ? a.errors / a.calls : null,
      p99Ms: bucketQuantile(a.latency, 0.99),
      feedbackCount: a.count,
      feedbackCorrect: a.correct,
      accuracy: a.count > 0 ? a.correct / a.count : null,
      mae: a.count > 0 ? a.absError / a.count : null,
      rmse: a.count > 0 ? Math.sqrt(a.squaredError / a.count) : null,
      drift: [...a.drift.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).flatMap(([feature, perGateway]) => fleetDrift(feature, [...perGateway.values()])),
      attribution: fleetAttribution(windows.filter((w) => w.version === version)),
      slices: fleetSlices(windows.filter((w) => w.version === version)),
    }));
}

function fleetDrift(feature: string, snapshots: WireDriftSnapshot[]): FleetDrift[] {
  const rows = snapshots.reduce((sum, s) => sum + s.rows, 0);
  if (rows === 0) return [];
  const psi = snapshots.reduce((sum, s) => sum + s.psi! * s.rows, 0) / rows;
  const level = snapshots.reduce<FleetDrift['level']>((worst, s) => (s.level !== null && LEVEL_RANK[s.level] > LEVEL_RANK[worst] ? s.level : worst), 'ok');
  return [{ feature, psi, rows, gateways: snapshots.length, level }];
}

/** The upper bound of the bucket holding quantile `q` (the overflow bucket: the last bound); null when empty. */
export function bucketQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((x, y) => x + y, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return LATENCY_BUCKETS_MS[Math.min(i, LATENCY_BUCKETS_MS.length - 1)]!;
  }
  return LATENCY_BUCKETS_MS.at(-1)!;
}
