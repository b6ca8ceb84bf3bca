// The gateways' current drift windows as bin counts (issue 23: the console draws each feature's
// reference histogram against the current window). A gateway's traffic window may carry the counts
// of the drift window its PSI figures score (lib/sync-wire.ts WireDriftBins, an optional field that
// older gateways do not send). Only the latest per gateway and model version is kept (one row,
// overwritten), so the table stays as small as the fleet; a query merges the rows of the gateways
// that reported recently by adding their counts bin by bin.
import { SluiceError } from '../../lib/errors.js';
import type { WireDriftBins, WireTrafficWindow } from '../../lib/sync-wire.js';
import type { Db, Store, Tx } from '../store/db.js';

/** Features per window (as many as a drift snapshot may name). */
export const MAX_BIN_FEATURES = 4096;
/** Bins of one feature (a profile's PSI bins are ~10; categories may be more). */
export const MAX_FEATURE_BINS = 1024;
/** Bins of all features of one window together: keeps a report's size bounded whatever the model. */
export const MAX_WINDOW_BINS = 65_536;
/** What "current" means unless a query says otherwise: the gateways' reports of the last 5 minutes. */
export const CURRENT_SECONDS = 300;
export const MAX_CURRENT_SECONDS = 3600;

/** One feature merged over the gateways. */
export interface DriftHistogram {
  feature: string;
  /** Counts on the profile's PSI bins (proportions' bins), summed over the gateways. */
  counts: number[];
  /** Their sum: the binned rows (NaN values are not binned). */
  rows: number;
}

export interface CurrentDriftWindow {
  /** Gateways whose latest report was merged. */
  gateways: number;
  /** When the newest of them was received; null when none reported. */
  receivedAt: string | null;
  features: DriftHistogram[];
}

function invalid(index: number, message: string, field: string): SluiceError {
  return new SluiceError('SLUICE_E_VALIDATION', `windows[${index}]: ${message}`, { details: { field: `windows[${index}].${field}`, index } });
}

/** Validate one window's driftBins (absent or null: none): names unique, counts non-negative integers, sizes bounded. */
export function parseDriftBins(value: unknown, index: number): WireDriftBins[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || value.length > MAX_BIN_FEATURES) throw invalid(index, `driftBins must be a list of at most ${MAX_BIN_FEATURES} features`, 'driftBins');
  const names = new Set<string>();
  let total = 0;
  return (value as Partial<Record<keyof WireDriftBins, unknown>>[]).map((b, f): WireDriftBins => {
    const at = `driftBins[${f}]`;
    if (typeof b?.feature !== 'string' || b.feature.length === 0 || b.feature.length > 128) throw invalid(index, `${at}.feature must be a name`, `${at}.feature`);
    if (names.has(b.feature)) throw invalid(index, `${at}.feature ${b.feature} appears twice`, `${at}.feature`);
    names.add(b.feature);
    if (!Array.isArray(b.counts) || b.counts.length === 0 || b.counts.length > MAX_FEATURE_BINS) throw invalid(index, `${at}.counts must have 1 to ${MAX_FEATURE_BINS} bins`, `${at}.counts`);
    total += b.counts.length;
    if (total > MAX_WINDOW_BINS) throw invalid(index, `driftBins may hold at most ${MAX_WINDOW_BINS} bins in all`, 'driftBins');
    const counts = b.counts.map((c: unknown, i: number) => {
      if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) throw invalid(index, `${at}.counts[${i}] must be a non-negative integer`, `${at}.counts[${i}]`);
      return c;
    });
    return { feature: b.feature, counts };
  });
}

/**
 * Keep each window's bins as `gateway`'s latest of its model version (in the report's transaction).
 * Of several windows of one version in a report (a rollout changed), the one that ended last wins.
 */
export async function keepDriftBins(db: Db | Tx, gateway: string, windows: readonly WireTrafficWindow[], receivedAt: string): Promise<void> {
  const latest = new Map<string, WireTrafficWindow>();
  for (const w of windows) {
    if (!w.driftBins || w.driftBins.length === 0) continue;
    const key = `${w.model}\u0000${w.version}`;
    const have = latest.get(key);
    if (!have || have.end <= w.end) latest.set(key, w);
  }
  if (latest.size === 0) return;
  const rows = [...latest.values()].map((w) => ({ gateway, model: w.model, version: w.version, received_at: receivedAt, window_end: w.end, bins: JSON.stringify(w.driftBins) }));
  await db
    .insertInto('drift_histograms')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['gateway', 'model', 'version']).doUpdateSet((eb) => ({
        received_at: eb.ref('excluded.received_at'),
        window_end: eb.ref('excluded.window_end'),
        bins: eb.ref('excluded.bins'),
      })),
    )
    .execute();
}

/** Add `from`'s features into `into`; a feature binned differently (another profile) is left out. */
function mergeInto(into: Map<string, number[]>, from: readonly WireDriftBins[]): void {
  for (const b of from) {
    const have = into.get(b.feature);
    if (have === undefined) into.set(b.feature, [...b.counts]);
    else if (have.length === b.counts.length) for (let i = 0; i < have.length; i++) have[i]! += b.counts[i]!;
  }
}

export class DriftHistogramService {
  constructor(private readonly store: Store) {}

  /** The latest bins of every gateway that reported `model` version `version` in the last `seconds`, added up. */
  async current(model: string, version: number, seconds: number = CURRENT_SECONDS, nowMs: number = Date.now()): Promise<CurrentDriftWindow> {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_CURRENT_SECONDS) {
      throw new SluiceError('SLUICE_E_VALIDATION', `seconds must be an integer from 1 to ${MAX_CURRENT_SECONDS}`, { details: { field: 'seconds', max: MAX_CURRENT_SECONDS } });
    }
    const rows = await this.store.db
      .selectFrom('drift_histograms')
      .select(['received_at', 'bins'])
      .where('model', '=', model)
      .where('version', '=', version)
      .where('received_at', '>', new Date(nowMs - seconds * 1000).toISOString())
      .orderBy('gateway')
      .execute();
    const merged = new Map<string, number[]>();
    let receivedAt: string | null = null;
    for (const r of rows) {
      mergeInto(merged, JSON.parse(r.bins) as WireDriftBins[]);
      if (receivedAt === null || r.received_at > receivedAt) receivedAt = r.received_at;
    }
    return {
      gateways: rows.length,
      receivedAt,
      features: [...merged].map(([feature, counts]) => ({ feature, counts, rows: counts.reduce((a, b) => a + b, 0) })),
    };
  }

}

/** Forget the bins of gateways that last reported before `before` (pruned with the traffic windows). */
export async function pruneDriftBins(db: Db, before: string): Promise<number> {
  const r = await db.deleteFrom('drift_histograms').where('received_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
