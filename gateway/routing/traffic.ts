// Traffic windows: what this gateway saw of each model version since the last report (client
// calls, failures, calls refused at admission, latency on LATENCY_BUCKETS_MS, mirrored copies and
// how often they agreed, the rollout's output histograms, ground truth joined to its answers, and
// the drift monitor's figures at the window's end), which the control plane's rollout analysis and
// alerts read. The hot path only adds into typed arrays allocated when a window starts; take()
// turns them into wire windows and starts the next ones.
import { LATENCY_BUCKETS_MS, type WireDriftBins, type WireDriftSnapshot, type WireTrafficWindow } from '../../lib/sync-wire.js';
import type { WireAttributionSnapshot, WireSliceStats } from '../../lib/sync-wire.js';
import type { Tensor } from '../models/tensors.js';
import type { OutputBinning } from './output-bins.js';

const BOUNDS = Float64Array.from(LATENCY_BUCKETS_MS);
/** Buckets per histogram: one per bound and one for the rest. */
export const LATENCY_BUCKET_COUNT = BOUNDS.length + 1;

/** The bucket of a latency in ms: the first bound it does not exceed, else the overflow bucket. */
export function latencyBucket(ms: number): number {
  let lo = 0;
  let hi = BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (BOUNDS[mid]! < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The rollout a window is measured under: its id and how it bins outputs. */
export interface WindowRollout {
  readonly id: string;
  readonly binning: OutputBinning;
}

/** The drift figures of a model version now (undefined: it has no drift monitor). */
export type DriftSource = (model: string, version: string) => WireDriftSnapshot[] | undefined;
/** The bin counts of the window those figures score (undefined or empty: none to send). */
export type DriftBinsSource = (model: string, version: string) => WireDriftBins[] | undefined;
/** Where a version's window reads drift from; set and cleared by the drift extension. */
interface DriftSources {
  source: DriftSource | undefined;
  bins?: DriftBinsSource | undefined;
}

/**
 * Issue 22's figures a window carries beside drift: the attribution snapshot of sampled calls (a
 * state) and the slice counts since the last window (drained by each window that closes).
 */
export interface ExplainedSources {
  attribution: ((model: string, version: string) => WireAttributionSnapshot | undefined) | undefined;
  slices: ((model: string, version: string) => WireSliceStats[] | undefined) | undefined;
}

/** The current window of one model version. */
export class VersionTraffic {
  readonly model: string;
  readonly version: string;
  rollout: WindowRollout | undefined = undefined;
  #start = Date.now();
  calls = 0;
  errors = 0;
  /** Client calls refused at admission (full or late queue, no decode slot, unloading): not in calls. */
  refused = 0;
  readonly latency = new Float64Array(LATENCY_BUCKET_COUNT);
  mirrorCalls = 0;
  mirrorErrors = 0;
  mirrorCompared = 0;
  mirrorAgreed = 0;
  readonly mirrorLatency = new Float64Array(LATENCY_BUCKET_COUNT);
  outputs = new Float64Array(0);
  feedbackRows = 0;
  feedbackCorrect = 0;
  feedbackAbsError = 0;
  feedbackSquaredError = 0;
  /** Windows closed early because the rollout changed, waiting for take(). */
  readonly #closed: WireTrafficWindow[];

  readonly #drift: DriftSources;
  readonly #explained: ExplainedSources;

  constructor(model: string, version: string, closed: WireTrafficWindow[], drift: DriftSources = { source: undefined }, explained: ExplainedSources = { attribution: undefined, slices: undefined }) {
    this.model = model;
    this.version = version;
    this.#closed = closed;
    this.#drift = drift;
    this.#explained = explained;
  }

  /** Start measuring under another rollout (or none): the window so far is closed under the old one. */
  follow(rollout: WindowRollout | undefined): void {
    if (rollout === this.rollout) return;
    const now = Date.now();
    const w = this.#window(now);
    if (w !== undefined) this.#closed.push(w);
    this.#reset(now);
    this.rollout = rollout;
    this.outputs = new Float64Array(rollout?.binning.size ?? 0);
  }

  /** One client call answered (or failed), `ms` from received to answered. */
  call(ms: number, failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
    this.latency[latencyBucket(ms)]!++;
  }

  /** One client call refused at admission for room: counted apart, neither a call nor an error. */
  refuse(): void {
    this.refused++;
  }

  /** The outputs of a successful client call, binned for the rollout (nothing without one). */
  answered(outputs: readonly Tensor[]): void {
    const r = this.rollout;
    if (r !== undefined && r.binning.features.length > 0) r.binning.observe(outputs, this.outputs);
  }

  /** A copy this version ran for a rollout; `compared`: both answers could be compared. */
  mirrored(ms: number, failed: boolean, compared: boolean, agreed: boolean): void {
    this.mirrorCalls++;
    if (failed) this.mirrorErrors++;
    if (compared) this.mirrorCompared++;
    if (agreed) this.mirrorAgreed++;
    this.mirrorLatency[latencyBucket(ms)]!++;
  }

  /** Ground truth for `rows` rows of this version's answers: right ones (classifiers), error sums (regressors). */
  feedback(rows: number, correct: number, absError: number, squaredError: number): void {
    this.feedbackRows += rows;
    this.feedbackCorrect += correct;
    this.feedbackAbsError += absError;
    this.feedbackSquaredError += squaredError;
  }

  /** The window so far (undefined when it saw no call, refusal, copy or feedback), and a fresh one started. */
  take(now: number): WireTrafficWindow | undefined {
    const w = this.#window(now);
    this.#reset(now);
    return w;
  }

  #window(now: number): WireTrafficWindow | undefined {
    if (this.calls === 0 && this.refused === 0 && this.mirrorCalls === 0 && this.feedbackRows === 0) return undefined;
    const binning = this.rollout?.binning;
    const outputs = binning === undefined ? [] : binning.features.map((f, i) => ({ feature: f.feature, counts: Array.from(this.outputs.subarray(binning.offsets[i]!, binning.offsets[i + 1]!)) }));
    const w: WireTrafficWindow = {
      model: this.model,
      version: Number(this.version),
      rolloutId: this.rollout?.id ?? null,
      start: new Date(this.#start).toISOString(),
      end: new Date(Math.max(now, this.#start)).toISOString(),
      calls: this.calls,
      errors: this.errors,
      latency: Array.from(this.latency),
      mirrored: { calls: this.mirrorCalls, errors: this.mirrorErrors, compared: this.mirrorCompared, agreed: this.mirrorAgreed, latency: Array.from(this.mirrorLatency) },
      outputs,
    };
    // Absent rather than null or 0 when there is nothing to say: older control planes know none of these fields.
    if (this.refused > 0) w.refused = this.refused;
    if (this.feedbackRows > 0) {
      w.feedback = { count: this.feedbackRows, correct: this.feedbackCorrect, absError: this.feedbackAbsError, squaredError: this.feedbackSquaredError };
    }
    const drift = this.#drift.source?.(this.model, this.version);
    if (drift !== undefined) w.drift = drift;
    const bins = this.#drift.bins?.(this.model, this.version);
    if (bins !== undefined && bins.length > 0) w.driftBins = bins;
    const attribution = this.#explained.attribution?.(this.model, this.version);
    if (attribution !== undefined) w.attribution = attribution;
    const slices = this.#explained.slices?.(this.model, this.version);
    if (slices !== undefined) w.slices = slices;
    return w;
  }

  #reset(now: number): void {
    this.#start = now;
    this.calls = 0;
    this.errors = 0;
    this.refused = 0;
    this.latency.fill(0);
    this.mirrorCalls = 0;
    this.mirrorErrors = 0;
    this.mirrorCompared = 0;
    this.mirrorAgreed = 0;
    this.mirrorLatency.fill(0);
    this.outputs.fill(0);
    this.feedbackRows = 0;
    this.feedbackCorrect = 0;
    this.feedbackAbsError = 0;
    this.feedbackSquaredError = 0;
  }
}

/** Every version's current window on this gateway. */
export class TrafficWindows {
  readonly #byModel = new Map<string, Map<string, VersionTraffic>>();
  readonly #closed: WireTrafficWindow[] = [];
  readonly #drift: DriftSources = { source: undefined };
  /** Where windows read attribution snapshots and slice counts from (the inference service sets them). */
  readonly explained: ExplainedSources = { attribution: undefined, slices: undefined };

  /** Where windows read their version's drift figures from (the drift extension sets it). */
  set driftSource(source: DriftSource | undefined) {
    this.#drift.source = source;
  }

  /** Where windows read the bin counts of those figures' window from (the drift extension sets it). */
  set driftBinsSource(source: DriftBinsSource | undefined) {
    this.#drift.bins = source;
  }

  /** The window of a model version (created on first use; generations of a version share it). */
  of(model: string, version: string): VersionTraffic {
    let versions = this.#byModel.get(model);
    if (versions === undefined) {
      versions = new Map();
      this.#byModel.set(model, versions);
    }
    let v = versions.get(version);
    if (v === undefined) {
      v = new VersionTraffic(model, version, this.#closed, this.#drift, this.explained);
      versions.set(version, v);
    }
    return v;
  }

  /** The windows with calls, refusals, copies or feedback since the last take, oldest first; every window starts over. */
  take(now = Date.now()): WireTrafficWindow[] {
    const out = this.#closed.splice(0);
    for (const versions of this.#byModel.values()) {
      for (const v of versions.values()) {
        const w = v.take(now);
        if (w !== undefined) out.push(w);
      }
    }
    return out;
  }
}
