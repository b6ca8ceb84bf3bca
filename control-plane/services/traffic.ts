// Traffic windows: what each gateway measured per model version (lib/sync-wire.ts WireTrafficWindow),
// stored as reported and aggregated across every gateway for rollout analysis. Windows are selected
// by the control plane's receive time, not the gateways' clocks, so consecutive analysis runs over
// (from, to] count every window exactly once whatever the gateways' clock skew or report lag.
import { SluiceError } from '../../lib/errors.js';
import type { WireAttributionSnapshot, WireSliceStats } from '../../lib/sync-wire.js';
import { LATENCY_BUCKETS_MS, type WireDriftSnapshot, type WireFeedbackStats, type WireMirrorStats, type WireOutputHistogram, type WireTrafficWindow } from '../../lib/sync-wire.js';
import type { Store } from '../store/db.js';
import type { TrafficWindowTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import { keepDriftBins, parseDriftBins, pruneDriftBins } from './drift-histograms.js';
import type { AuditLog } from './audit.js';
import { parseAttribution, parseSlices } from './explained-figures.js';
import { fleetFigures, type VersionFigures } from './fleet-figures.js';
import { newId, now } from './ids.js';

const BUCKETS = LATENCY_BUCKETS_MS.length + 1;
/** At most this many windows per report (a gateway sends one per loaded version per interval). */
export const MAX_WINDOWS_PER_REPORT = 256;
const MAX_FEATURES = 64;
/** Drift snapshots per window: one per input and output feature of a version's drift monitor. */
const MAX_DRIFT_FEATURES = 4096;
/** PSI is a sum of non-negative terms; a rounding error this small below 0 is read as 0, not refused. */
const PSI_ROUNDING = 1e-9;
const DRIFT_LEVELS: readonly (string | null)[] = ['ok', 'warn', 'alert', null];
const MAX_BINS = 1024;
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** A window can cover at most this long (a gateway that was cut off sends what it has). */
const MAX_WINDOW_MS = 15 * 60_000;
/** PSI's epsilon for empty bins (the same floor the gateway's drift statistics use). */
const PSI_EPSILON = 1e-4;

/** What the gateways measured for one model version over a time range, summed over every gateway. */
export interface VersionTraffic {
  model: string;
  version: number;
  /** Client calls this version answered. */
  calls: number;
  errors: number;
  /** Client calls refused at admission for room (not in calls). */
  refused: number;
  /** Copies (shadow or canary mirror) this version ran. */
  mirroredCalls: number;
  mirroredErrors: number;
  compared: number;
  agreed: number;
  /** Merged histograms, LATENCY_BUCKETS_MS + overflow. */
  latency: number[];
  mirroredLatency: number[];
  outputs: Map<string, number[]>;
  gateways: number;
}

export class TrafficService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Store a gateway's windows. Only the gateway's own token may report for it (anything else is
   * denied and audited); the windows are validated whole before any is stored. Reports are
   * telemetry, many per second across a fleet: they are not audit events themselves.
   */
  async report(ctx: CallContext, gateway: string, windows: unknown): Promise<number> {
    const row = await this.store.db.selectFrom('gateways').select(['id', 'token_id']).where('name', '=', gateway).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no gateway ${gateway}; register it first`, { details: { gateway } });
    if (row.token_id !== ctx.actor.id) return this.audit.denied(ctx, 'traffic.report', `gateway/${gateway}`, 'gateway registered by another token');
    const parsed = parseWindows(windows);
    if (parsed.length === 0) return 0;
    const receivedAt = now();
    const rows: TrafficWindowTable[] = parsed.map((w) => ({
      id: newId('tw'),
      gateway,
      model: w.model,
      version: w.version,
      rollout_id: w.rolloutId,
      window_start: w.start,
      window_end: w.end,
      received_at: receivedAt,
      calls: w.calls,
      errors: w.errors,
      refused: w.refused ?? 0,
      latency: JSON.stringify(w.latency),
      mirrored: JSON.stringify(w.mirrored),
      outputs: JSON.stringify(w.outputs),
      feedback: w.feedback ? JSON.stringify(w.feedback) : null,
      drift: w.drift ? JSON.stringify(w.drift) : null,
      attribution: w.attribution ? JSON.stringify(w.attribution) : null,
      slices: w.slices ? JSON.stringify(w.slices) : null,
    }));
    // Windows and bins in one transaction (a failed report is sent again: no window stored twice);
    // a report without bins stays one INSERT (docs/scaling.md counts its statements).
    if (parsed.some((w) => w.driftBins)) {
      await this.store.db.transaction().execute(async (tx) => {
        await tx.insertInto('traffic_windows').values(rows).execute();
        await keepDriftBins(tx, gateway, parsed, receivedAt);
      });
    } else {
      await this.store.db.insertInto('traffic_windows').values(rows).execute();
    }
    return rows.length;
  }

  /** Every gateway's windows for `model` version `version` received in (from, to]. */
  async aggregate(model: string, version: number, from: string, to: string): Promise<VersionTraffic> {
    const rows = await this.store.db
      .selectFrom('traffic_windows')
      .selectAll()
      .where('model', '=', model)
      .where('version', '=', version)
      .where('received_at', '>', from)
      .where('received_at', '<=', to)
      .execute();
    const out: VersionTraffic = {
      model,
      version,
      calls: 0,
      errors: 0,
      refused: 0,
      mirroredCalls: 0,
      mirroredErrors: 0,
      compared: 0,
      agreed: 0,
      latency: new Array<number>(BUCKETS).fill(0),
      mirroredLatency: new Array<number>(BUCKETS).fill(0),
      outputs: new Map(),
      gateways: new Set(rows.map((r) => r.gateway)).size,
    };
    for (const r of rows) {
      out.calls += Number(r.calls);
      out.errors += Number(r.errors);
      out.refused += Number(r.refused);
      addInto(out.latency, JSON.parse(r.latency) as number[]);
      const m = JSON.parse(r.mirrored) as WireMirrorStats;
      out.mirroredCalls += m.calls;
      out.mirroredErrors += m.errors;
      out.compared += m.compared;
      out.agreed += m.agreed;
      addInto(out.mirroredLatency, m.latency);
      for (const h of JSON.parse(r.outputs) as WireOutputHistogram[]) {
        const have = out.outputs.get(h.feature);
        if (!have) out.outputs.set(h.feature, [...h.counts]);
        else if (have.length === h.counts.length) addInto(have, h.counts);
      }
    }
    return out;
  }

  /**
   * Fleet-wide figures of every version of `model` with windows received in (from, to] (to: now),
   * summed over every gateway; services/fleet-figures.ts defines each figure.
   */
  async fleetFigures(model: string, fromIso: string, toIso: string = now()): Promise<VersionFigures[]> {
    const rows = await this.store.db
      .selectFrom('traffic_windows')
      .select(['gateway', 'version', 'received_at', 'window_end', 'calls', 'errors', 'latency', 'feedback', 'drift', 'attribution', 'slices'])
      .where('model', '=', model)
      .where('received_at', '>', fromIso)
      .where('received_at', '<=', toIso)
      .orderBy('received_at')
      .orderBy('window_end')
      .execute();
    return fleetFigures(
      model,
      rows.map((r) => ({
        gateway: r.gateway,
        version: Number(r.version),
        calls: Number(r.calls),
        errors: Number(r.errors),
        latency: JSON.parse(r.latency) as number[],
        feedback: r.feedback === null ? null : (JSON.parse(r.feedback) as WireFeedbackStats),
        drift: r.drift === null ? null : (JSON.parse(r.drift) as WireDriftSnapshot[]),
        attribution: r.attribution === null ? null : (JSON.parse(r.attribution) as WireAttributionSnapshot),
        slices: r.slices === null ? null : (JSON.parse(r.slices) as WireSliceStats[]),
      })),
    );
  }

  /** Drop windows received before `before` (the controller keeps what analyses still read). */
  async prune(before: string): Promise<number> {
    const r = await this.store.db.deleteFrom('traffic_windows').where('received_at', '<', before).executeTakeFirst();
    await pruneDriftBins(this.store.db, before);
    return Number(r.numDeletedRows);
  }
}

function addInto(into: number[], add: readonly number[]): void {
  for (let i = 0; i < into.length && i < add.length; i++) into[i]! += add[i]!;
}

/**
 * The latency (ms) at quantile `q` of a LATENCY_BUCKETS_MS histogram, interpolated linearly inside
 * its bucket (Prometheus' histogram_quantile); the overflow bucket answers its lower bound.
 */
export function histogramQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && seen + c >= rank) {
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS.at(-1)!;
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      return lower + (LATENCY_BUCKETS_MS[i]! - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return LATENCY_BUCKETS_MS.at(-1)!;
}

/** Population stability index of `actual` against `expected` (bin counts of one feature). */
export function psi(expected: readonly number[], actual: readonly number[]): number | null {
  const te = expected.reduce((a, b) => a + b, 0);
  const ta = actual.reduce((a, b) => a + b, 0);
  if (te === 0 || ta === 0 || expected.length !== actual.length) return null;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]! / te, PSI_EPSILON);
    const a = Math.max(actual[i]! / ta, PSI_EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** The largest PSI over the features both versions report, and which feature it was. */
export function maxOutputPsi(stable: VersionTraffic, candidate: VersionTraffic): { value: number; feature: string } | null {
  let best: { value: number; feature: string } | null = null;
  for (const [feature, counts] of candidate.outputs) {
    const base = stable.outputs.get(feature);
    if (!base) continue;
    const value = psi(base, counts);
    if (value !== null && (best === null || value > best.value)) best = { value, feature };
  }
  return best;
}

function invalid(index: number, message: string, field: string): SluiceError {
  return new SluiceError('SLUICE_E_VALIDATION', `windows[${index}]: ${message}`, { details: { field: `windows[${index}].${field}`, index } });
}

function count(value: unknown, index: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_COUNT) throw invalid(index, `${field} must be a non-negative integer`, field);
  return value;
}

function measure(value: unknown, index: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(index, `${field} must be a finite number >= 0`, field);
  return value;
}

function feedbackStats(value: unknown, index: number): WireFeedbackStats | null {
  if (value === null || value === undefined) return null;
  const f = value as Partial<Record<keyof WireFeedbackStats, unknown>>;
  const stats: WireFeedbackStats = {
    count: count(f.count, index, 'feedback.count'),
    correct: count(f.correct, index, 'feedback.correct'),
    absError: measure(f.absError, index, 'feedback.absError'),
    squaredError: measure(f.squaredError, index, 'feedback.squaredError'),
  };
  if (stats.correct > stats.count) throw invalid(index, 'feedback.correct cannot exceed feedback.count', 'feedback.correct');
  return stats;
}

function driftSnapshots(value: unknown, index: number): WireDriftSnapshot[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || value.length > MAX_DRIFT_FEATURES) throw invalid(index, `drift must be a list of at most ${MAX_DRIFT_FEATURES} features`, 'drift');
  return (value as Partial<Record<keyof WireDriftSnapshot, unknown>>[]).map((d, f): WireDriftSnapshot => {
    if (typeof d.feature !== 'string' || d.feature.length === 0 || d.feature.length > 128) throw invalid(index, `drift[${f}].feature must be a name`, `drift[${f}].feature`);
    const rows = count(d.rows, index, `drift[${f}].rows`);
    const psiValue = d.psi === null || d.psi === undefined ? null : measure(typeof d.psi === 'number' && d.psi < 0 && d.psi > -PSI_ROUNDING ? 0 : d.psi, index, `drift[${f}].psi`);
    const level = d.level === undefined ? null : d.level;
    if (!DRIFT_LEVELS.includes(level as string | null)) throw invalid(index, `drift[${f}].level must be ok, warn, alert or null`, `drift[${f}].level`);
    return { feature: d.feature, rows, psi: psiValue, level: level as WireDriftSnapshot['level'] };
  });
}

function histogram(value: unknown, index: number, field: string): number[] {
  if (!Array.isArray(value) || value.length !== BUCKETS) throw invalid(index, `${field} must have ${BUCKETS} buckets (LATENCY_BUCKETS_MS and one overflow bucket)`, field);
  return value.map((v, i) => count(v, index, `${field}[${i}]`));
}

/** Validate a report whole (GraphQL has checked the types; this checks sizes, counts and their consistency). */
export function parseWindows(value: unknown): WireTrafficWindow[] {
  if (!Array.isArray(value) || value.length > MAX_WINDOWS_PER_REPORT) {
    throw new SluiceError('SLUICE_E_VALIDATION', `windows must be a list of at most ${MAX_WINDOWS_PER_REPORT}`, { details: { field: 'windows', max: MAX_WINDOWS_PER_REPORT } });
  }
  return value.map((raw: Partial<Record<keyof WireTrafficWindow, unknown>>, i): WireTrafficWindow => {
    if (typeof raw.model !== 'string' || raw.model.length === 0 || raw.model.length > 64) throw invalid(i, 'model must be a model name', 'model');
    const version = count(raw.version, i, 'version');
    if (version < 1) throw invalid(i, 'version must be at least 1', 'version');
    const start = Date.parse(String(raw.start));
    const end = Date.parse(String(raw.end));
    if (Number.isNaN(start) || Number.isNaN(end) || end < start || end - start > MAX_WINDOW_MS) {
      throw invalid(i, `start and end must be times with start <= end, at most ${MAX_WINDOW_MS / 1000} s apart`, 'end');
    }
    const calls = count(raw.calls, i, 'calls');
    const errors = count(raw.errors, i, 'errors');
    if (errors > calls) throw invalid(i, 'errors cannot exceed calls', 'errors');
    // Absent or null from a gateway older than the field: it refused nothing it could tell apart.
    const refused = raw.refused === undefined || raw.refused === null ? 0 : count(raw.refused, i, 'refused');
    const latency = histogram(raw.latency, i, 'latency');
    const m = (raw.mirrored ?? {}) as Partial<Record<keyof WireMirrorStats, unknown>>;
    const mirrored: WireMirrorStats = {
      calls: count(m.calls, i, 'mirrored.calls'),
      errors: count(m.errors, i, 'mirrored.errors'),
      compared: count(m.compared, i, 'mirrored.compared'),
      agreed: count(m.agreed, i, 'mirrored.agreed'),
      latency: histogram(m.latency, i, 'mirrored.latency'),
    };
    if (mirrored.errors > mirrored.calls || mirrored.compared > mirrored.calls || mirrored.agreed > mirrored.compared) {
      throw invalid(i, 'mirrored counts must satisfy errors <= calls, agreed <= compared <= calls', 'mirrored');
    }
    if (!Array.isArray(raw.outputs) || raw.outputs.length > MAX_FEATURES) throw invalid(i, `outputs must be a list of at most ${MAX_FEATURES} features`, 'outputs');
    const outputs = (raw.outputs as Partial<WireOutputHistogram>[]).map((h, f): WireOutputHistogram => {
      if (typeof h.feature !== 'string' || h.feature.length === 0 || h.feature.length > 128) throw invalid(i, `outputs[${f}].feature must be a name`, `outputs[${f}].feature`);
      if (!Array.isArray(h.counts) || h.counts.length === 0 || h.counts.length > MAX_BINS) throw invalid(i, `outputs[${f}].counts must have 1 to ${MAX_BINS} bins`, `outputs[${f}].counts`);
      return { feature: h.feature, counts: h.counts.map((c, b) => count(c, i, `outputs[${f}].counts[${b}]`)) };
    });
    const rolloutId = raw.rolloutId === null || raw.rolloutId === undefined ? null : String(raw.rolloutId).slice(0, 64);
    const feedback = feedbackStats(raw.feedback, i);
    const drift = driftSnapshots(raw.drift, i);
    const window: WireTrafficWindow = { model: raw.model, version, rolloutId, start: new Date(start).toISOString(), end: new Date(end).toISOString(), calls, errors, refused, latency, mirrored, outputs, feedback, drift, attribution: parseAttribution(raw.attribution, i), slices: parseSlices(raw.slices, i) };
    const driftBins = parseDriftBins(raw.driftBins, i);
    if (driftBins !== null) window.driftBins = driftBins;
    return window;
  });
}
