// Prometheus metrics of one gateway (its own registry, so several gateways in one process — tests —
// do not collide). Labels are bounded: model and version come from the repository, never from the
// request (an unknown model name is counted under model="" ), outcome from a fixed set.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { LabelCachedHistogram, SampledMetric } from './label-cached-metrics.js';
import type { ErrorCode } from '../../lib/errors.js';

export type Outcome = 'success' | 'client_error' | 'server_error' | 'timeout' | 'rejected' | 'cancelled';

export function outcomeOf(code: ErrorCode | undefined, status: number): Outcome {
  if (code === undefined) return 'success';
  if (code === 'SLUICE_E_BATCH_TIMEOUT') return 'timeout';
  if (code === 'SLUICE_E_BATCH_CANCELLED') return 'cancelled';
  if (code === 'SLUICE_E_BATCH_QUEUE_FULL' || code === 'SLUICE_E_BATCH_QUEUE_LATE' || code === 'SLUICE_E_HTTP_DRAINING' || code === 'SLUICE_E_MODEL_NOT_READY') return 'rejected';
  // The budgets' 503s (a decode slot, the front's caps) refuse for room; their 408/413 are the caller's.
  if (code.startsWith('SLUICE_E_BUDGET_') && status >= 500) return 'rejected';
  return status >= 500 ? 'server_error' : 'client_error';
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The per-model-version children, resolved once per version so the hot path does no label lookups. */
export interface VersionMetrics {
  requestDuration: { observe(v: number): void };
  queueDuration: { observe(v: number): void };
  computeDuration: { observe(v: number): void };
  batchSize: { observe(v: number): void };
  /** Explanations' background batches, apart from the calls' (their rows are synthetic). */
  explainBatchSize: { observe(v: number): void };
  explainComputeDuration: { observe(v: number): void };
  inFlight: { inc(): void; dec(): void };
  count(outcome: Outcome): void;
  workerCrash(): void;
  /** A lone call ran on the main thread instead of a worker (batching/inline.ts). */
  inlineRun(): void;
}

/** Feedback figures of each version's current window, read at scrape time (NaN: no feedback yet). */
export type FeedbackSource = () => Iterable<{ model: string; version: string; task: 'classification' | 'regression'; value: number }>;

export type FeedbackOutcome = 'correct' | 'wrong' | 'value';

/** Read at scrape time, so the hot path never touches the queue-depth gauge. */
export type QueueDepthSource = () => Iterable<{ model: string; version: string; depth: number }>;

/** The execution provider each loaded version runs on, read at scrape time. */
export type ProviderSource = () => Iterable<{ model: string; version: string; provider: string }>;

/** Where the GPUs stand, read at scrape time: versions per device and each device's memory (nvidia-smi, MiB). */
export interface DeviceState {
  placements: Iterable<{ name: string; version: string; device: number }>;
  devices: Iterable<{ index: number; name: string; memoryTotalMiB: number | null; memoryUsedMiB: number | null }>;
}
export type DeviceSource = () => DeviceState;

/** The per-label-set numbers the hot path adds to; read at scrape time. */
interface VersionCounts {
  labels: { model: string; version: string };
  inFlight: number;
  outcomes: Map<Outcome, number>;
}

export interface FrontState {
  refused: Record<string, number>;
  open: number;
  bodyBytes: number;
  lagSeconds: number;
  /** The share of new calls the front admits after an overload (1: all). */
  admittedShare: number;
}
export type FrontSource = () => FrontState;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requestDuration: LabelCachedHistogram;
  readonly queueDuration: LabelCachedHistogram;
  readonly computeDuration: LabelCachedHistogram;
  readonly batchSize: LabelCachedHistogram;
  readonly explainBatchSize: LabelCachedHistogram;
  readonly explainComputeDuration: LabelCachedHistogram;
  readonly decodeDuration: LabelCachedHistogram;
  readonly workerCrashes: Counter<'model' | 'version'>;
  readonly inlineRuns: Counter<'model' | 'version'>;
  readonly #mirrorDropped: Counter<'model' | 'version'>;
  readonly #feedback: Counter<'model' | 'version' | 'outcome'>;
  #feedbackSource: FeedbackSource = () => [];
  /** Keyed by model and version: generations of one version (during a reload) share their series. */
  readonly #counts = new Map<string, VersionCounts>();
  #queueDepthSource: QueueDepthSource = () => [];
  #providerSource: ProviderSource = () => [];
  #deviceSource: DeviceSource = () => ({ placements: [], devices: [] });
  #frontSource: FrontSource | undefined = undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    const counts = this.#counts;
    this.registry.registerMetric(new SampledMetric({
      name: 'sluice_inference_requests_total', help: 'Inference calls by model version and outcome', type: 'counter',
      *read() {
        for (const c of counts.values()) for (const [outcome, value] of c.outcomes) yield { labels: { ...c.labels, outcome }, value };
      },
    }) as never);
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]): LabelCachedHistogram => {
      const h = new LabelCachedHistogram({ name, help, labelNames, buckets });
      this.registry.registerMetric(h as never);
      return h;
    };
    this.requestDuration = histogram('sluice_inference_request_duration_seconds', 'Time from a call being decoded to its answer', ['model', 'version'], LATENCY_BUCKETS);
    this.queueDuration = histogram('sluice_inference_queue_duration_seconds', 'Time a call waited in the batcher before its batch started', ['model', 'version'], LATENCY_BUCKETS);
    this.computeDuration = histogram('sluice_inference_compute_duration_seconds', 'Time inside ONNX Runtime session.run per batch', ['model', 'version'], LATENCY_BUCKETS);
    this.batchSize = histogram('sluice_inference_batch_size', 'Rows per batch of calls sent to ONNX Runtime', ['model', 'version'], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    this.explainBatchSize = histogram('sluice_explain_batch_size', 'Rows per background batch of explanation coalitions sent to ONNX Runtime', ['model', 'version'], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    this.explainComputeDuration = histogram('sluice_explain_compute_duration_seconds', 'Time inside ONNX Runtime session.run per background batch of explanation coalitions', ['model', 'version'], LATENCY_BUCKETS);
    const depthSource = (): QueueDepthSource => this.#queueDepthSource;
    this.registry.registerMetric(new SampledMetric({
      name: 'sluice_inference_queue_depth', help: 'Calls waiting in the batcher', type: 'gauge',
      *read() {
        for (const q of depthSource()()) yield { labels: { model: q.model, version: q.version }, value: q.depth };
      },
    }) as never);
    const providerSource = (): ProviderSource => this.#providerSource;
    this.registry.registerMetric(new SampledMetric({
      name: 'sluice_model_execution_provider', help: 'The execution provider a loaded model version runs on (1; cpu after a CUDA fallback)', type: 'gauge',
      *read() {
        for (const p of providerSource()()) yield { labels: { model: p.model, version: p.version, provider: p.provider }, value: 1 };
      },
    }) as never);
    const deviceSource = (): DeviceSource => this.#deviceSource;
    this.registry.registerMetric(new SampledMetric({
      name: 'sluice_model_device', help: 'The GPU a loaded model version runs on (1; only while it runs on cuda)', type: 'gauge',
      *read() {
        for (const p of deviceSource()().placements) yield { labels: { model: p.name, version: p.version, device: String(p.device) }, value: 1 };
      },
    }) as never);
    for (const [name, field, help] of [
      ['sluice_gpu_memory_used_bytes', 'memoryUsedMiB', 'Memory used on a GPU, as nvidia-smi last reported it (all processes)'],
      ['sluice_gpu_memory_total_bytes', 'memoryTotalMiB', 'Memory of a GPU, as nvidia-smi reports it'],
    ] as const) {
      this.registry.registerMetric(new SampledMetric({
        name, help, type: 'gauge',
        *read() {
          for (const d of deviceSource()().devices) {
            const mib = d[field];
            if (mib !== null) yield { labels: { device: String(d.index), name: d.name }, value: mib * 1024 * 1024 };
          }
        },
      }) as never);
    }
    this.registry.registerMetric(new SampledMetric({
      name: 'sluice_inference_in_flight', help: 'Calls accepted and not yet answered', type: 'gauge',
      *read() {
        for (const c of counts.values()) if (c.labels.model !== '') yield { labels: c.labels, value: c.inFlight };
      },
    }) as never);
    const front = (): FrontState | undefined => this.#frontSource?.();
    this.registry.registerMetric(new SampledMetric({
      name: 'sluice_front_refused_total', help: 'Calls refused at the front before parsing, by reason (docs/budgets.md)', type: 'counter',
      *read() {
        const f = front();
        if (f) for (const reason in f.refused) yield { labels: { reason }, value: f.refused[reason]! };
      },
    }) as never);
    const gauge = (name: string, help: string, value: (f: FrontState) => number): void => {
      this.registry.registerMetric(new SampledMetric({
        name, help, type: 'gauge',
        *read() {
          const f = front();
          if (f) yield { labels: {}, value: value(f) };
        },
      }) as never);
    };
    gauge('sluice_front_open', 'Open HTTP calls plus WebSocket connections (capped by --max-connections)', (f) => f.open);
    gauge('sluice_front_body_bytes', 'Request body bytes reserved in the body budget', (f) => f.bodyBytes);
    gauge('sluice_event_loop_lag_seconds', 'Event-loop lag the front sheds on', (f) => f.lagSeconds);
    gauge('sluice_front_admitted_share', 'Share of new calls the front admits after an overload (1: all)', (f) => f.admittedShare);
    this.decodeDuration = histogram('sluice_request_decode_duration_seconds', 'Main-thread time to decode a request body into tensors (json or binary)', ['protocol'],
      [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05]);
    this.workerCrashes = new Counter({
      name: 'sluice_worker_crashes_total', help: 'Batches lost because their inference worker died',
      labelNames: ['model', 'version'], registers,
    });
    this.inlineRuns = new Counter({
      name: 'sluice_inline_runs_total', help: 'Batches run on the main thread instead of a worker (dynamic_batching.inline_max_us)',
      labelNames: ['model', 'version'], registers,
    });
    this.#mirrorDropped = new Counter({
      name: 'sluice_mirror_dropped_total', help: 'Rollout copies of calls not run because the version they were for was busy or not ready',
      labelNames: ['model', 'version'], registers,
    });
    this.#feedback = new Counter({
      name: 'sluice_feedback_total', help: 'Answer rows that got ground truth: classes predicted right or wrong, or values (regressors)',
      labelNames: ['model', 'version', 'outcome'], registers,
    });
    const feedbackSource = (): FeedbackSource => this.#feedbackSource;
    const headline = (name: string, help: string, task: 'classification' | 'regression'): void => {
      this.registry.registerMetric(new SampledMetric({
        name, help, type: 'gauge',
        *read() {
          for (const f of feedbackSource()()) if (f.task === task && !Number.isNaN(f.value)) yield { labels: { model: f.model, version: f.version }, value: f.value };
        },
      }) as never);
    };
    headline('sluice_feedback_accuracy', 'Share of labelled rows predicted right in the current feedback window (classifiers)', 'classification');
    headline('sluice_feedback_mean_absolute_error', 'Mean absolute error of the rows given a value in the current feedback window (regressors)', 'regression');
  }

  /** Rows of ground truth joined to a version's answers, by outcome (not on the inference hot path). */
  countFeedback(model: string, version: string, outcome: FeedbackOutcome, rows: number): void {
    if (rows > 0) this.#feedback.inc({ model, version, outcome }, rows);
  }

  setFeedbackSource(source: FeedbackSource): void {
    this.#feedbackSource = source;
  }

  /** The counter of rollout copies meant for this version and dropped (busy, unloading); resolve once, count often. */
  mirrorDropped(model: string, version: string): { inc(value?: number): void } {
    return this.#mirrorDropped.labels({ model, version });
  }

  #countsFor(model: string, version: string): VersionCounts {
    const key = `${model}\u0000${version}`;
    let c = this.#counts.get(key);
    if (c === undefined) {
      c = { labels: { model, version }, inFlight: 0, outcomes: new Map() };
      this.#counts.set(key, c);
    }
    return c;
  }

  forVersion(model: string, version: string): VersionMetrics {
    const labels = { model, version };
    const c = this.#countsFor(model, version);
    const inlineRuns = this.inlineRuns.labels(labels);
    return {
      requestDuration: this.requestDuration.labels(labels),
      queueDuration: this.queueDuration.labels(labels),
      computeDuration: this.computeDuration.labels(labels),
      batchSize: this.batchSize.labels(labels),
      explainBatchSize: this.explainBatchSize.labels(labels),
      explainComputeDuration: this.explainComputeDuration.labels(labels),
      inFlight: {
        inc: () => void c.inFlight++,
        dec: () => void c.inFlight--,
      },
      workerCrash: () => this.workerCrashes.labels(labels).inc(),
      inlineRun: () => inlineRuns.inc(),
      count: (outcome) => void c.outcomes.set(outcome, (c.outcomes.get(outcome) ?? 0) + 1),
    };
  }

  /** What the front (gateway/server/admission.ts) reports at each scrape. */
  setFrontSource(source: FrontSource): void {
    this.#frontSource = source;
  }

  setQueueDepthSource(source: QueueDepthSource): void {
    this.#queueDepthSource = source;
  }

  setProviderSource(source: ProviderSource): void {
    this.#providerSource = source;
  }

  setDeviceSource(source: DeviceSource): void {
    this.#deviceSource = source;
  }

  /** Calls that never reached a model version (unknown model, bad request before routing). */
  countUnrouted(outcome: Outcome): void {
    const c = this.#countsFor('', '');
    c.outcomes.set(outcome, (c.outcomes.get(outcome) ?? 0) + 1);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
