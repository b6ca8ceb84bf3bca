// Explainability after deployment: for versions whose config sets explain.sample_fraction, a
// sampled share of answered calls has one row explained (at background priority, one explanation
// in flight per version: a sample arriving while one runs is skipped and counted), and the mean
// absolute attribution per feature is kept over windows of explain.window_seconds. Each window's
// attribution shares (a feature's part of the total) are compared with those of the reference:
// the same explanation run once on rows drawn from the reference profile. The shift is the total
// variation distance between the two share vectors, 0 (same importance) to 1 — a feature whose
// upstream broke (constant, missing, rescaled) moves its share long before accuracy is known.
import { SluiceError } from '../../lib/errors.js';
import { seededRandom } from '../../lib/random.js';
import type { WireAttributionSnapshot } from '../../lib/sync-wire.js';
import type { LoadedVersion, PreparedRequest } from '../models/loaded-version.js';
import { drawBackground } from './background.js';
import type { Explainer, Explanation } from './explainer.js';

/** Rows of the reference explanation (drawn with its own seed, once per version). */
export const REFERENCE_ROWS = 16;
const REFERENCE_SEED = 0x5eed;

export interface AttributionWindowReport {
  start: string;
  end: string;
  /** Rows explained in the window. */
  rows: number;
  /** Total variation distance of the window's shares from the reference's; null before any row. */
  shift: number | null;
  features: { feature: string; mean_abs: number; share: number; reference_share: number }[];
}

export interface AttributionReport {
  sample_fraction: number;
  window_seconds: number;
  method: 'exact' | 'kernel' | null;
  /** Samples skipped because an explanation was still running, and explanations that failed. */
  skipped: number;
  failed: number;
  reference: { rows: number; mean_abs: number[] } | null;
  current: AttributionWindowReport;
  previous: AttributionWindowReport | null;
}

class Window {
  readonly start: number;
  end = 0;
  rows = 0;
  readonly sumAbs: Float64Array;

  constructor(start: number, width: number) {
    this.start = start;
    this.sumAbs = new Float64Array(width);
  }
}

/** Mean |φ| per feature over every explained row, averaged over the output columns. */
function meanAbs(e: Explanation, width: number): { rows: number; sum: Float64Array } {
  const sum = new Float64Array(width);
  let rows = 0;
  for (const o of e.outputs) {
    o.attributions.forEach((row, r) => {
      if (o === e.outputs[0]) rows = Math.max(rows, r + 1);
      for (const phi of row) for (let i = 0; i < width; i++) sum[i] = sum[i]! + Math.abs(phi[i]!) / (row.length * e.outputs.length);
    });
  }
  return { rows, sum };
}

function shares(sum: ArrayLike<number>): number[] {
  let total = 0;
  for (let i = 0; i < sum.length; i++) total += sum[i]!;
  return Array.from(sum, (v) => (total > 0 ? v / total : 0));
}

/** One version's windows. */
export class VersionAttributions {
  readonly features: string[];
  readonly #windowMs: number;
  readonly #fraction: number;
  current: Window;
  previous: Window | undefined;
  reference: { rows: number; meanAbs: Float64Array; shares: number[] } | undefined;
  method: 'exact' | 'kernel' | undefined;
  busy = false;
  skipped = 0;
  failed = 0;

  constructor(features: string[], windowSeconds: number, fraction: number, now: number) {
    this.features = features;
    this.#windowMs = windowSeconds * 1000;
    this.#fraction = fraction;
    this.current = new Window(now, features.length);
  }

  /** Close the current window when its time is up. */
  roll(now: number): void {
    if (now - this.current.start < this.#windowMs) return;
    this.current.end = now;
    this.previous = this.current;
    this.current = new Window(now, this.features.length);
  }

  add(e: Explanation, now: number): void {
    this.roll(now);
    this.method = e.method;
    const { rows, sum } = meanAbs(e, this.features.length);
    this.current.rows += rows;
    for (let i = 0; i < sum.length; i++) this.current.sumAbs[i] = this.current.sumAbs[i]! + sum[i]!;
  }

  report(now: number): AttributionReport {
    this.roll(now);
    return {
      sample_fraction: this.#fraction,
      window_seconds: this.#windowMs / 1000,
      method: this.method ?? null,
      skipped: this.skipped,
      failed: this.failed,
      reference: this.reference === undefined ? null : { rows: this.reference.rows, mean_abs: Array.from(this.reference.meanAbs) },
      current: this.#windowReport(this.current, now),
      previous: this.previous === undefined ? null : this.#windowReport(this.previous, this.previous.end),
    };
  }

  /** The shift of the current window, else the previous one (null: nothing explained yet). */
  shift(now: number): number | null {
    this.roll(now);
    const w = this.current.rows > 0 ? this.current : this.previous;
    return w === undefined ? null : this.#windowReport(w, now).shift;
  }

  /** The current window, else the previous one, for the control plane (undefined: nothing explained yet). */
  snapshot(now: number): WireAttributionSnapshot | undefined {
    this.roll(now);
    const w = this.current.rows > 0 ? this.current : this.previous;
    if (w === undefined || w.rows === 0) return undefined;
    const r = this.#windowReport(w, now);
    return { rows: r.rows, shift: r.shift, features: r.features.map((f) => ({ feature: f.feature, share: f.share, referenceShare: f.reference_share })) };
  }

  #windowReport(w: Window, end: number): AttributionWindowReport {
    const mean = Array.from(w.sumAbs, (s) => (w.rows > 0 ? s / w.rows : 0));
    const now = shares(mean);
    const ref = this.reference?.shares;
    let shift: number | null = null;
    if (w.rows > 0 && ref !== undefined) {
      shift = 0;
      for (let i = 0; i < now.length; i++) shift += Math.abs(now[i]! - ref[i]!) / 2;
    }
    return {
      start: new Date(w.start).toISOString(),
      end: new Date(end).toISOString(),
      rows: w.rows,
      shift,
      features: this.features.map((feature, i) => ({ feature, mean_abs: mean[i]!, share: now[i]!, reference_share: ref?.[i] ?? 0 })),
    };
  }
}

/** Every sampled version's attribution windows on this gateway. */
export class AttributionWindows {
  readonly explainer: Explainer;
  /** null: the version samples but cannot be explained (not tabular, no profile); asked once. */
  readonly #versions = new Map<string, VersionAttributions | null>();
  readonly #clock: () => number;

  constructor(explainer: Explainer, clock: () => number = Date.now) {
    this.explainer = explainer;
    this.#clock = clock;
  }

  /**
   * On the call path, before the inputs move to a worker: one row of a sampled call, copied, or
   * undefined (not sampled, not explainable, or an explanation of this version still running).
   */
  sample(version: LoadedVersion, prepared: PreparedRequest): Float32Array | undefined {
    const fraction = version.config.explain?.sample_fraction ?? 0;
    if (fraction <= 0 || Math.random() >= fraction) return undefined;
    const windows = this.#of(version);
    if (windows === undefined) return undefined;
    if (windows.busy) {
      windows.skipped++;
      return undefined;
    }
    const x = prepared.inputs[0]!;
    const width = windows.features.length;
    const row = Math.floor(Math.random() * prepared.rows);
    return (x.data as Float32Array).slice(row * width, (row + 1) * width);
  }

  /** After the call was answered: explain the sampled row in the background. */
  explainLater(version: LoadedVersion, row: Float32Array): void {
    const windows = this.#of(version);
    if (windows === undefined || windows.busy) return;
    windows.busy = true;
    this.#explain(version, windows, row).then(
      () => {
        windows.busy = false;
      },
      () => {
        windows.failed++;
        windows.busy = false;
      },
    );
  }

  async #explain(version: LoadedVersion, windows: VersionAttributions, row: Float32Array): Promise<void> {
    if (windows.reference === undefined) {
      const e = this.explainer.explainable(version);
      const rows = drawBackground(e.features, REFERENCE_ROWS, seededRandom(REFERENCE_SEED));
      const ref = await this.explainer.explain(version, { name: e.input, datatype: 'FP32', shape: [REFERENCE_ROWS, e.width], data: rows }, { seed: REFERENCE_SEED, rowLimit: REFERENCE_ROWS });
      const { rows: n, sum } = meanAbs(ref, e.width);
      const mean = sum.map((s) => s / n);
      windows.reference = { rows: n, meanAbs: mean, shares: shares(mean) };
    }
    const e = await this.explainer.explain(version, { name: this.explainer.explainable(version).input, datatype: 'FP32', shape: [1, row.length], data: row });
    windows.add(e, this.#clock());
  }

  /** The windows of a version that samples, or undefined. */
  report(model: string, version: string): AttributionReport | undefined {
    return this.#versions.get(`${model}\u0000${version}`)?.report(this.#clock()) ?? undefined;
  }

  /** The snapshot of a version that samples (the traffic windows carry it to the control plane). */
  snapshot(model: string, version: string): WireAttributionSnapshot | undefined {
    return this.#versions.get(`${model}\u0000${version}`)?.snapshot(this.#clock()) ?? undefined;
  }

  /** Every sampled version's windows (for /metrics). */
  *entries(): Iterable<{ model: string; version: string; windows: VersionAttributions }> {
    for (const [key, windows] of this.#versions) {
      if (windows === null) continue;
      const [model, version] = key.split('\u0000') as [string, string];
      yield { model, version, windows };
    }
  }

  get now(): number {
    return this.#clock();
  }

  #of(version: LoadedVersion): VersionAttributions | undefined {
    const key = `${version.name}\u0000${version.version}`;
    let w = this.#versions.get(key);
    if (w === null) return undefined;
    if (w === undefined) {
      let features: string[];
      try {
        features = this.explainer.explainable(version).features.map((f) => f.name);
      } catch (err) {
        if (!(err instanceof SluiceError)) throw err;
        this.#versions.set(key, null);
        return undefined;
      }
      const config = version.config.explain!;
      w = new VersionAttributions(features, config.window_seconds, config.sample_fraction, this.#clock());
      this.#versions.set(key, w);
    }
    return w;
  }
}
