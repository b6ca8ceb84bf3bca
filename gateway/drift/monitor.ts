// DriftMonitor: the main thread's view of one model version's drift. The current window is the
// merge of every worker's window state for the current epoch (collect); evaluate() scores it against
// the reference profile, exports the scores, starts a new epoch every `window_seconds` or once the
// window holds `window_rows` (the hub tells the workers), and raises a drift event whenever a feature's PSI level (ok / warn / alert
// against its thresholds) changes. Scores are judged only once a window
// holds `min_rows` rows: PSI over 10 bins has an expected value of about 9/n even without drift, so
// small windows would raise false alarms.
//
// What the report and the metrics publish of the current window is a snapshot taken once the window
// holds `report_min_rows` rows and again each time it has grown by as many rows: between two polls
// the published figures either stay the same or change by at least that many rows, so no poll pair
// isolates one caller's input (a window of one call would otherwise show it as count and mean).
// The control plane gets the live figures (snapshot()): it is trusted with them.
import type { Logger } from '../../lib/log.js';
import type { WireDriftBins, WireDriftSnapshot } from '../../lib/sync-wire.js';
import { DEFAULT_REPORT_MIN_ROWS, type DriftConfig } from '../models/config.js';
import type { CompiledProfile } from './compile.js';
import { binsOf, blockOffsets, FEATURE_HEADER, SCORE_FIELDS, type ScoreField } from './layout.js';
import type { DriftMetrics } from './metrics.js';
import { SCORE_STRIDE } from './ts-scores.js';
import { DriftWindow, type DriftBackend } from './window.js';

// Columns of a feature's score row (SCORE_FIELDS order).
const COUNT = SCORE_FIELDS.indexOf('count');
const PSI = SCORE_FIELDS.indexOf('psi');
const NAN = SCORE_FIELDS.indexOf('nan');

export type DriftLevel = 'ok' | 'warn' | 'alert';
const LEVEL_VALUE: Record<DriftLevel, number> = { ok: 0, warn: 1, alert: 2 };
const MAX_EVENTS = 100;

export interface DriftEvent {
  at: string;
  model: string;
  version: string;
  feature: string;
  level: DriftLevel;
  previous: DriftLevel;
  psi: number;
  threshold: number;
  rows: number;
}

export type FeatureScores = Record<ScoreField, number | null> & { level: DriftLevel | null };

export interface WindowReport {
  started: string;
  ended: string | null;
  rows: number;
  features: Record<string, FeatureScores>;
}

export interface DriftReport {
  model: string;
  version: string;
  backend: DriftBackend;
  status: DriftLevel | 'insufficient_data';
  min_rows: number;
  window_seconds: number;
  sample_fraction: number;
  thresholds: { psi_warn: number; psi_alert: number; features: Record<string, { psi_warn: number; psi_alert: number }> };
  profile: { created: string; source: Record<string, unknown> };
  current: WindowReport;
  previous: WindowReport | null;
  events: DriftEvent[];
}

export interface DriftMonitorOptions {
  model: string;
  version: string;
  compiled: CompiledProfile;
  config: DriftConfig;
  logger: Logger;
  metrics?: DriftMetrics | undefined;
  /** Minimum rows before scores are judged (config drift.min_rows). */
  minRows?: number;
  backend?: DriftBackend | 'auto';
  now?: () => number;
  /** Called with every drift event after it is logged (the control-plane sync forwards them). */
  onEvent?: ((event: DriftEvent) => void) | undefined;
}

interface ScoredWindow {
  started: number;
  ended: number | null;
  rows: number;
  scores: Float64Array;
  /** Counts on the PSI bins, every feature's in a row (reference.coarseOffsets), for the control plane's histograms. */
  bins: Float64Array;
}

export class DriftMonitor {
  readonly model: string;
  readonly version: string;
  readonly compiled: CompiledProfile;
  readonly minRows: number;
  /** Rows a window needs before its aggregates are published, and the step between publications. */
  readonly reportMinRows: number;
  readonly #config: DriftConfig;
  readonly #logger: Logger;
  readonly #metrics: DriftMetrics | undefined;
  readonly #now: () => number;
  readonly #onEvent: ((event: DriftEvent) => void) | undefined;
  readonly #window: DriftWindow;
  readonly #thresholds: { warn: number; alert: number }[];
  #started: number;
  #epoch = 0;
  #dirty = true;
  #current: ScoredWindow;
  #previous: ScoredWindow | null = null;
  /** The current window as last published (null: not yet report_min_rows rows). */
  #published: ScoredWindow | null = null;
  #levels: (DriftLevel | null)[];
  #events: DriftEvent[] = [];

  constructor(options: DriftMonitorOptions) {
    this.model = options.model;
    this.version = options.version;
    this.compiled = options.compiled;
    this.#config = options.config;
    this.minRows = options.minRows ?? options.config.min_rows;
    this.reportMinRows = options.config.report_min_rows ?? DEFAULT_REPORT_MIN_ROWS;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#onEvent = options.onEvent;
    this.#window = new DriftWindow(options.compiled.layout, options.backend ?? 'auto');
    this.#thresholds = options.compiled.features.map((name) => {
      const t = options.config.thresholds?.[name];
      return { warn: t?.psi_warn ?? options.config.psi_warn, alert: t?.psi_alert ?? options.config.psi_alert };
    });
    this.#levels = options.compiled.features.map(() => null);
    this.#started = this.#now();
    this.#current = { started: this.#started, ended: null, rows: 0, scores: this.#window.scores(options.compiled.reference), bins: new Float64Array(options.compiled.reference.refCoarse.length) };
  }

  /** The current window becomes the merge of these window states (one per worker, this epoch). */
  collect(states: Iterable<Float64Array>): void {
    this.#window.reset();
    for (const s of states) this.#window.mergeSnapshot(s);
    this.#dirty = true;
  }

  /** Window generation; workers publish states tagged with it, and start over when it moves on. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Score what has been merged, judge thresholds, export metrics, rotate the window when it is due. */
  evaluate(): void {
    const now = this.#now();
    if (this.#dirty) {
      this.#current = this.#score(this.#started, null);
      this.#dirty = false;
      const published = this.#published?.rows ?? 0;
      if (this.#current.rows >= published + this.reportMinRows) this.#published = this.#current;
    }
    const effective = this.#effective();
    if (effective) this.#judge(effective);
    this.#export(effective === this.#current ? this.#published : effective);
    const full = this.#config.window_rows > 0 && this.#current.rows >= this.#config.window_rows;
    if (full || now - this.#started >= this.#config.window_seconds * 1000) {
      this.#previous = { ...this.#current, ended: now };
      this.#published = null;
      this.#window.reset();
      this.#epoch++;
      this.#started = now;
      this.#current = this.#score(now, null);
    }
  }

  /** The window judged: the current one once it has min_rows, else the last complete one. */
  #effective(): ScoredWindow | null {
    if (this.#current.rows >= this.minRows) return this.#current;
    if (this.#previous && this.#previous.rows >= this.minRows) return this.#previous;
    return null;
  }

  #score(started: number, ended: number | null): ScoredWindow {
    const scores = this.#window.scores(this.compiled.reference);
    let rows = 0;
    // A window's rows: the most values any one feature saw (NaN included). Inputs and outputs of a
    // batch are counted together, so every feature normally agrees.
    for (let f = 0; f < this.compiled.features.length; f++) {
      const seen = scores[f * SCORE_STRIDE + COUNT]! + scores[f * SCORE_STRIDE + NAN]!;
      if (seen > rows) rows = seen;
    }
    return { started, ended, rows, scores, bins: this.#coarseCounts() };
  }

  /** The window's fine counts summed onto each feature's PSI bins (the profile's proportions' bins). */
  #coarseCounts(): Float64Array {
    const { layout, reference: ref } = this.compiled;
    const state = this.#window.snapshot();
    const offsets = blockOffsets(layout);
    const out = new Float64Array(ref.refCoarse.length);
    let fine = 0;
    for (let f = 0; f < this.compiled.features.length; f++) {
      const at = offsets[f]! + FEATURE_HEADER;
      const base = ref.coarseOffsets[f]!;
      const bins = binsOf(layout, f);
      for (let j = 0; j < bins; j++) out[base + ref.coarseMap[fine + j]!] += state[at + j]!;
      fine += bins;
    }
    return out;
  }

  #judge(w: ScoredWindow): void {
    this.compiled.features.forEach((feature, f) => {
      const psi = w.scores[f * SCORE_STRIDE + PSI]!;
      if (Number.isNaN(psi)) return;
      const t = this.#thresholds[f]!;
      const level: DriftLevel = psi >= t.alert ? 'alert' : psi >= t.warn ? 'warn' : 'ok';
      const previous = this.#levels[f] ?? 'ok';
      this.#levels[f] = level;
      if (level === previous) return;
      const event: DriftEvent = {
        at: new Date(this.#now()).toISOString(), model: this.model, version: this.version, feature, level, previous, psi,
        threshold: level === 'alert' ? t.alert : t.warn, rows: w.rows,
      };
      this.#events.push(event);
      if (this.#events.length > MAX_EVENTS) this.#events.shift();
      this.#metrics?.events.inc({ model: this.model, version: this.version, feature, level });
      const log = { event: 'drift', drift: event };
      if (level === 'ok') this.#logger.info(log, 'drift cleared');
      else this.#logger.warn(log, `drift ${level}`);
      this.#onEvent?.(event);
    });
  }

  #export(w: ScoredWindow | null): void {
    const m = this.#metrics;
    if (!m) return;
    const base = { model: this.model, version: this.version };
    m.rows.set(base, w ? w.rows : this.#current.rows);
    this.compiled.features.forEach((feature, f) => {
      const labels = { ...base, feature };
      for (const [field, gauge] of m.gauges) {
        const v = w ? w.scores[f * SCORE_STRIDE + SCORE_FIELDS.indexOf(field)]! : NaN;
        if (Number.isNaN(v)) gauge.remove(labels);
        else gauge.set(labels, v);
      }
      const level = this.#levels[f];
      if (level) m.level.set(labels, LEVEL_VALUE[level]);
    });
  }

  /** Overall level: the worst feature's, or insufficient_data before any window reached min_rows. */
  get status(): DriftLevel | 'insufficient_data' {
    if (!this.#effective()) return 'insufficient_data';
    let worst: DriftLevel = 'ok';
    for (const l of this.#levels) if (l && LEVEL_VALUE[l] > LEVEL_VALUE[worst]) worst = l;
    return worst;
  }

  get events(): readonly DriftEvent[] {
    return this.#events;
  }

  report(): DriftReport {
    const features: DriftReport['thresholds']['features'] = {};
    this.compiled.features.forEach((name, f) => {
      const t = this.#thresholds[f]!;
      if (t.warn !== this.#config.psi_warn || t.alert !== this.#config.psi_alert) features[name] = { psi_warn: t.warn, psi_alert: t.alert };
    });
    return {
      model: this.model,
      version: this.version,
      backend: this.#window.backend,
      status: this.status,
      min_rows: this.minRows,
      window_seconds: this.#config.window_seconds,
      sample_fraction: this.#config.sample_fraction,
      thresholds: { psi_warn: this.#config.psi_warn, psi_alert: this.#config.psi_alert, features },
      profile: { created: this.compiled.profile.created, source: this.compiled.profile.source },
      current: this.#windowReport(this.#published ?? this.#unpublished(), this.#effective() === this.#current),
      previous: this.#previous ? this.#windowReport(this.#previous.rows >= this.reportMinRows ? this.#previous : this.#unpublished(this.#previous), this.#effective() === this.#previous) : null,
      events: [...this.#events],
    };
  }

  /**
   * Each feature's figures now, for the traffic window the gateway reports: the current window's, or
   * the previous one's while the current holds fewer than min_rows rows (and a previous one exists).
   */
  snapshot(): WireDriftSnapshot[] {
    const prev = this.#previous;
    const w = this.#current.rows < this.minRows && prev !== null ? prev : this.#current;
    const judged = w.rows >= this.minRows;
    return this.compiled.features.map((feature, f) => {
      const psi = w.scores[f * SCORE_STRIDE + PSI]!;
      return { feature, rows: w.rows, psi: Number.isFinite(psi) ? psi : null, level: judged ? this.#levels[f] ?? null : null };
    });
  }

  /**
   * Each feature's counts on its PSI bins in the window snapshot() scores, for the control plane's
   * current histogram. Counts reach people who only read the console, so of the current window it
   * is the published snapshot (report_min_rows rows, then steps of as many, as report() shows):
   * no two reports isolate one caller's input. None while there is no such snapshot.
   */
  bins(): WireDriftBins[] {
    const prev = this.#previous;
    const w = this.#current.rows < this.minRows && prev !== null ? prev : this.#published;
    if (w === null || w.rows < this.reportMinRows) return [];
    const offsets = this.compiled.reference.coarseOffsets;
    return this.compiled.features.map((feature, f) => ({ feature, counts: Array.from(w.bins.subarray(offsets[f]!, offsets[f + 1]!)) }));
  }

  /** A window whose figures are withheld: its times, no rows, no scores. */
  #unpublished(w: ScoredWindow = this.#current): ScoredWindow {
    return { started: w.started, ended: w.ended, rows: 0, scores: new Float64Array(w.scores.length).fill(NaN), bins: new Float64Array(w.bins.length) };
  }

  #windowReport(w: ScoredWindow, judged: boolean): WindowReport {
    const features: Record<string, FeatureScores> = {};
    this.compiled.features.forEach((name, f) => {
      const row = { level: judged ? this.#levels[f] ?? null : null } as FeatureScores;
      SCORE_FIELDS.forEach((field, i) => {
        const v = w.scores[f * SCORE_STRIDE + i]!;
        row[field] = Number.isFinite(v) ? v : null;
      });
      features[name] = row;
    });
    return { started: new Date(w.started).toISOString(), ended: w.ended === null ? null : new Date(w.ended).toISOString(), rows: w.rows, features };
  }

  close(): void {
    this.#metrics?.remove(this.model, this.version, this.compiled.features);
    this.#window.dispose();
  }
}
