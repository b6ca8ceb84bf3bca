// Sends this gateway's traffic windows to the control plane (reportTraffic) every
// trafficReportIntervalMs. Windows without calls, refusals, copies or feedback are never sent. A
// send that fails keeps its windows and merges the next ones into them (same model, version and
// rollout: counts add up, the window widens), so nothing is lost while the control plane is away
// and memory stays bounded by the number of model versions; past `maxPending` the oldest are
// dropped. Serving never waits on it.
import { toSluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { WireFeedbackStats, WireOutputHistogram, WireSliceStats, WireTrafficWindow } from '../../lib/sync-wire.js';
import type { TrafficWindows } from '../routing/traffic.js';

export interface TrafficReporterOptions {
  windows: TrafficWindows;
  send: (windows: WireTrafficWindow[]) => Promise<unknown>;
  logger: Logger;
  /** Windows kept while sends fail (default 1024). */
  maxPending?: number | undefined;
}

export class TrafficReporter {
  readonly #o: TrafficReporterOptions;
  readonly #pending = new Map<string, WireTrafficWindow>();
  readonly #maxPending: number;
  #failing = false;

  constructor(options: TrafficReporterOptions) {
    this.#o = options;
    this.#maxPending = options.maxPending ?? 1024;
  }

  /** Windows waiting to be sent (after failed sends). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Close the current windows and send them with whatever earlier sends left; never rejects. */
  async flush(now = Date.now()): Promise<void> {
    for (const w of this.#o.windows.take(now)) this.#add(w);
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    try {
      await this.#o.send(batch);
      // Windows merged in while the send was in flight are new objects or grew: keep those.
      for (const [key, w] of this.#pending) if (batch.includes(w)) this.#pending.delete(key);
      if (this.#failing) this.#o.logger.info({ windows: batch.length }, 'traffic windows sent again');
      this.#failing = false;
    } catch (err) {
      const e = toSluiceError(err, 'SLUICE_E_INTERNAL', true);
      if (!this.#failing) this.#o.logger.warn({ code: e.code, reason: e.message, windows: batch.length }, 'traffic windows not sent; kept for the next report');
      this.#failing = true;
    }
  }

  #add(w: WireTrafficWindow): void {
    const key = `${w.model}\u0000${w.version}\u0000${w.rolloutId ?? ''}`;
    const old = this.#pending.get(key);
    if (old !== undefined) {
      this.#pending.delete(key);
      this.#pending.set(key, mergeWindows(old, w));
      return;
    }
    this.#pending.set(key, w);
    while (this.#pending.size > this.#maxPending) this.#pending.delete(this.#pending.keys().next().value!);
  }
}

/**
 * One window covering both (same model, version and rollout): counts (refusals too) added,
 * [earliest start, latest end), feedback and slice counts added, and the drift snapshot and bins and
 * the attribution snapshot of the later window (a snapshot is a state, not a count).
 */
export function mergeWindows(a: WireTrafficWindow, b: WireTrafficWindow): WireTrafficWindow {
  const [earlier, later] = a.end <= b.end ? [a, b] : [b, a];
  const merged: WireTrafficWindow = {
    model: a.model,
    version: a.version,
    rolloutId: a.rolloutId,
    start: a.start < b.start ? a.start : b.start,
    end: a.end > b.end ? a.end : b.end,
    calls: a.calls + b.calls,
    errors: a.errors + b.errors,
    latency: addCounts(a.latency, b.latency),
    mirrored: {
      calls: a.mirrored.calls + b.mirrored.calls,
      errors: a.mirrored.errors + b.mirrored.errors,
      compared: a.mirrored.compared + b.mirrored.compared,
      agreed: a.mirrored.agreed + b.mirrored.agreed,
      latency: addCounts(a.mirrored.latency, b.mirrored.latency),
    },
    outputs: mergeOutputs(a.outputs, b.outputs),
  };
  const refused = (a.refused ?? 0) + (b.refused ?? 0);
  if (refused > 0) merged.refused = refused;
  const feedback = addFeedback(a.feedback ?? undefined, b.feedback ?? undefined);
  if (feedback !== undefined) merged.feedback = feedback;
  const drift = later.drift ?? earlier.drift;
  if (drift !== undefined && drift !== null) merged.drift = drift;
  const bins = later.driftBins ?? earlier.driftBins;
  if (bins !== undefined && bins !== null) merged.driftBins = bins;
  const attribution = later.attribution ?? earlier.attribution;
  if (attribution !== undefined && attribution !== null) merged.attribution = attribution;
  const slices = addSlices(a.slices ?? undefined, b.slices ?? undefined);
  if (slices !== undefined) merged.slices = slices;
  return merged;
}

/** Slice counts add up slice by slice. */
function addSlices(a: WireSliceStats[] | undefined, b: WireSliceStats[] | undefined): WireSliceStats[] | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const out = a.map((x) => ({ ...x }));
  for (const y of b) {
    const x = out.find((s) => s.slice === y.slice);
    if (x === undefined) out.push({ ...y });
    else {
      x.calls += y.calls;
      x.outcome += y.outcome;
      x.labelled += y.labelled;
      x.errors += y.errors;
    }
  }
  return out;
}

function addFeedback(a: WireFeedbackStats | undefined, b: WireFeedbackStats | undefined): WireFeedbackStats | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return { count: a.count + b.count, correct: a.correct + b.correct, absError: a.absError + b.absError, squaredError: a.squaredError + b.squaredError };
}

function addCounts(a: number[], b: number[]): number[] {
  return a.length === b.length ? a.map((x, i) => x + b[i]!) : b;
}

/** Features binned alike add up; a feature only one side has is kept as it is. */
function mergeOutputs(a: WireOutputHistogram[], b: WireOutputHistogram[]): WireOutputHistogram[] {
  const out = a.map((h) => ({ feature: h.feature, counts: h.counts }));
  for (const h of b) {
    const i = out.findIndex((x) => x.feature === h.feature);
    if (i < 0) out.push(h);
    else out[i] = { feature: h.feature, counts: addCounts(out[i]!.counts, h.counts) };
  }
  return out;
}
