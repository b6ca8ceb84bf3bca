// Issue 22's figures on the control plane: the attribution snapshots and per-slice counts that
// gateways' traffic windows carry (lib/sync-wire.ts WireAttributionSnapshot, WireSliceStats),
// validated as reportTraffic takes them and aggregated over the fleet as alert inputs. Definitions
// (docs/alerts.md repeats them):
// - attribution.shift = the rows-weighted mean, over the gateways, of each gateway's latest snapshot's
//   shift (total variation distance of attribution shares from the reference, 0..1);
//   attribution.features[f].shift = the same mean of |share − referenceShare| of feature f;
// - slices[s] sums every window's counts of slice s; errorRate = errors / labelled (classifiers: the
//   share predicted wrong; regressors: the MAE), outcomeRate = outcome / calls (the positive share,
//   or the mean prediction); the disparity is max − min errorRate over slices with enough labelled rows.
import { SluiceError } from '../../lib/errors.js';
import type { WireAttributionSnapshot, WireSliceStats } from '../../lib/sync-wire.js';

const MAX_ATTRIBUTION_FEATURES = 4096;
/** A gateway keeps at most 64 value slices, __other__ and __missing__; room for a later change. */
const MAX_SLICES = 128;
/** Shares are sums of fractions: a rounding error this small outside [0, 1] is clamped, not refused. */
const ROUNDING = 1e-9;

export interface FleetAttribution {
  /** Explained rows behind the figures, summed over the gateways' latest snapshots. */
  rows: number;
  gateways: number;
  shift: number | null;
  features: { feature: string; shift: number }[];
}

export interface FleetSlice {
  slice: string;
  calls: number;
  labelled: number;
  outcomeRate: number | null;
  errorRate: number | null;
}

function invalid(index: number, message: string, field: string): SluiceError {
  return new SluiceError('SLUICE_E_VALIDATION', `windows[${index}]: ${message}`, { details: { field: `windows[${index}].${field}`, index } });
}

function share(v: unknown, index: number, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < -ROUNDING || v > 1 + ROUNDING) throw invalid(index, `${field} must be a number from 0 to 1`, field);
  return Math.min(1, Math.max(0, v));
}

function count(v: unknown, index: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw invalid(index, `${field} must be a non-negative integer`, field);
  return v;
}

function name(v: unknown, index: number, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 128) throw invalid(index, `${field} must be a name of 1 to 128 characters`, field);
  return v;
}

/** A window's attribution snapshot, checked (absent or null: none). */
export function parseAttribution(value: unknown, index: number): WireAttributionSnapshot | null {
  if (value === null || value === undefined) return null;
  const a = value as Partial<Record<keyof WireAttributionSnapshot, unknown>>;
  const rows = count(a.rows, index, 'attribution.rows');
  const shift = a.shift === null || a.shift === undefined ? null : share(a.shift, index, 'attribution.shift');
  if (!Array.isArray(a.features) || a.features.length > MAX_ATTRIBUTION_FEATURES) throw invalid(index, `attribution.features must be a list of at most ${MAX_ATTRIBUTION_FEATURES}`, 'attribution.features');
  const features = (a.features as Record<string, unknown>[]).map((f, i) => ({
    feature: name(f.feature, index, `attribution.features[${i}].feature`),
    share: share(f.share, index, `attribution.features[${i}].share`),
    referenceShare: share(f.referenceShare, index, `attribution.features[${i}].referenceShare`),
  }));
  return { rows, shift, features };
}

/** A window's slice counts, checked (absent or null: none). */
export function parseSlices(value: unknown, index: number): WireSliceStats[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || value.length > MAX_SLICES) throw invalid(index, `slices must be a list of at most ${MAX_SLICES}`, 'slices');
  const seen = new Set<string>();
  return (value as Record<string, unknown>[]).map((s, i) => {
    const slice = name(s.slice, index, `slices[${i}].slice`);
    if (seen.has(slice)) throw invalid(index, `slices[${i}].slice ${slice} appears twice`, `slices[${i}].slice`);
    seen.add(slice);
    const calls = count(s.calls, index, `slices[${i}].calls`);
    const labelled = count(s.labelled, index, `slices[${i}].labelled`);
    // A regressor's outcome is a sum of predictions, which may be negative.
    if (typeof s.outcome !== 'number' || !Number.isFinite(s.outcome)) throw invalid(index, `slices[${i}].outcome must be a finite number`, `slices[${i}].outcome`);
    if (typeof s.errors !== 'number' || !Number.isFinite(s.errors) || s.errors < 0) throw invalid(index, `slices[${i}].errors must be a finite number >= 0`, `slices[${i}].errors`);
    return { slice, calls, outcome: s.outcome, labelled, errors: s.errors };
  });
}

/** What fleetAttribution and fleetSlices read of a stored window. */
export interface ExplainedWindow {
  gateway: string;
  attribution?: WireAttributionSnapshot | null | undefined;
  slices?: WireSliceStats[] | null | undefined;
}

/** The fleet's attribution figures of one version's windows, given oldest first (null: none carried a snapshot). */
export function fleetAttribution(windows: readonly ExplainedWindow[]): FleetAttribution | null {
  const latest = new Map<string, WireAttributionSnapshot>();
  for (const w of windows) if (w.attribution) latest.set(w.gateway, w.attribution);
  const snapshots = [...latest.values()].filter((s) => s.rows > 0);
  if (snapshots.length === 0) return null;
  const rows = snapshots.reduce((sum, s) => sum + s.rows, 0);
  const withShift = snapshots.filter((s) => s.shift !== null);
  const shiftRows = withShift.reduce((sum, s) => sum + s.rows, 0);
  const shift = shiftRows > 0 ? withShift.reduce((sum, s) => sum + s.shift! * s.rows, 0) / shiftRows : null;
  const perFeature = new Map<string, { sum: number; rows: number }>();
  for (const s of withShift) {
    for (const f of s.features) {
      const acc = perFeature.get(f.feature) ?? { sum: 0, rows: 0 };
      acc.sum += Math.abs(f.share - f.referenceShare) * s.rows;
      acc.rows += s.rows;
      perFeature.set(f.feature, acc);
    }
  }
  const features = [...perFeature.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([feature, a]) => ({ feature, shift: a.sum / a.rows }));
  return { rows, gateways: latest.size, shift, features };
}

/** The fleet's per-slice figures of one version's windows (counts add up over windows and gateways). */
export function fleetSlices(windows: readonly ExplainedWindow[]): FleetSlice[] {
  const sums = new Map<string, { calls: number; outcome: number; labelled: number; errors: number }>();
  for (const w of windows) {
    for (const s of w.slices ?? []) {
      const acc = sums.get(s.slice) ?? { calls: 0, outcome: 0, labelled: 0, errors: 0 };
      acc.calls += s.calls;
      acc.outcome += s.outcome;
      acc.labelled += s.labelled;
      acc.errors += s.errors;
      sums.set(s.slice, acc);
    }
  }
  return [...sums.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([slice, a]) => ({
    slice,
    calls: a.calls,
    labelled: a.labelled,
    outcomeRate: a.calls > 0 ? a.outcome / a.calls : null,
    errorRate: a.labelled > 0 ? a.errors / a.labelled : null,
  }));
}

/** max − min error rate over slices with at least `minLabelled` labelled rows; null with fewer than two. */
export function sliceErrorDisparity(slices: readonly FleetSlice[], minLabelled: number): number | null {
  const judged = slices.filter((s) => s.errorRate !== null && s.labelled >= minLabelled).map((s) => s.errorRate!);
  return judged.length >= 2 ? Math.max(...judged) - Math.min(...judged) : null;
}
