// Prometheus metrics of one gateway (its own registry, so several gateways in one process — tests —
// do not collide). Labels are bounded: model and version come from the repository, never from the
// request (an unknown model name is counted under model="" ), outcome from a fixed set.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from '../../lib/errors.js';

export type Outcome = 'success' | 'client_error' | 'server_error' | 'timeout' | 'rejected' | 'cancelled';

export function outcomeOf(code: ErrorCode | undefined, status: number): Outcome {
  if (code === undefined) return 'success';
  if (code === 'SLUICE_E_BATCH_TIMEOUT') return 'timeout';
  if (code === 'SLUICE_E_BATCH_CANCELLED') return 'cancelled';
  if (code === 'SLUICE_E_BATCH_QUEUE_FULL' || code === 'SLUICE_E_HTTP_DRAINING' || code === 'SLUICE_E_MODEL_NOT_READY') return 'rejected';
  return status >= 500 ? 'server_error' : 'client_error';
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The per-model-version children, resolved once per version so the hot path does no label lookups. */
export interface VersionMetrics {
  requestDuration: { observe(v: number): void };
  queueDuration: { observe(v: number): void };
  computeDuration: { observe(v: number): void };
  batchSize: { observe(v: number): void };
  inFlight: { inc(): void; dec(): void };
  count(outcome: Outcome): void;
  workerCrash(): void;
}

/** Read at scrape time, so the hot path never touches the queue-depth gauge. */
export type QueueDepthSource = () => Iterable<{ model: string; version: string; depth: number }>;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'model' | 'version' | 'outcome'>;
  readonly requestDuration: Histogram<'model' | 'version'>;
  readonly queueDuration: Histogram<'model' | 'version'>;
  readonly computeDuration: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly queueDepth: Gauge<'model' | 'version'>;
  readonly inFlight: Gauge<'model' | 'version'>;
  readonly decodeDuration: Histogram<'protocol'>;
  readonly workerCrashes: Counter<'model' | 'version'>;
  #queueDepthSource: QueueDepthSource = () => [];

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    this.requests = new Counter({
      name: 'sluice_inference_requests_total', help: 'Inference calls by model version and outcome',
      labelNames: ['model', 'version', 'outcome'], registers,
    });
    this.requestDuration = new Histogram({
      name: 'sluice_inference_request_duration_seconds', help: 'Time from a call being decoded to its answer',
      labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers,
    });
    this.queueDuration = new Histogram({
      name: 'sluice_inference_queue_duration_seconds', help: 'Time a call waited in the batcher before its batch started',
      labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers,
    });
    this.computeDuration = new Histogram({
      name: 'sluice_inference_compute_duration_seconds', help: 'Time inside ONNX Runtime session.run per batch',
      labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers,
    });
    this.batchSize = new Histogram({
      name: 'sluice_inference_batch_size', help: 'Rows per batch sent to ONNX Runtime',
      labelNames: ['model', 'version'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers,
    });
    const depthSource = (): QueueDepthSource => this.#queueDepthSource;
    this.queueDepth = new Gauge({
      name: 'sluice_inference_queue_depth', help: 'Calls waiting in the batcher', labelNames: ['model', 'version'], registers,
      collect() {
        this.reset();
        for (const q of depthSource()()) this.set({ model: q.model, version: q.version }, q.depth);
      },
    });
    this.inFlight = new Gauge({
      name: 'sluice_inference_in_flight', help: 'Calls accepted and not yet answered', labelNames: ['model', 'version'], registers,
    });
    this.decodeDuration = new Histogram({
      name: 'sluice_request_decode_duration_seconds', help: 'Main-thread time to decode a request body into tensors (json or binary)',
      labelNames: ['protocol'], buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05], registers,
    });
    this.workerCrashes = new Counter({
      name: 'sluice_worker_crashes_total', help: 'Batches lost because their inference worker died',
      labelNames: ['model', 'version'], registers,
    });
  }

  forVersion(model: string, version: string): VersionMetrics {
    const labels = { model, version };
    const counters = new Map<Outcome, { inc(): void }>();
    return {
      requestDuration: this.requestDuration.labels(labels),
      queueDuration: this.queueDuration.labels(labels),
      computeDuration: this.computeDuration.labels(labels),
      batchSize: this.batchSize.labels(labels),
      inFlight: this.inFlight.labels(labels),
      workerCrash: () => this.workerCrashes.labels(labels).inc(),
      count: (outcome) => {
        let c = counters.get(outcome);
        if (c === undefined) {
          c = this.requests.labels({ model, version, outcome });
          counters.set(outcome, c);
        }
        c.inc();
      },
    };
  }

  setQueueDepthSource(source: QueueDepthSource): void {
    this.#queueDepthSource = source;
  }

  /** Calls that never reached a model version (unknown model, bad request before routing). */
  countUnrouted(outcome: Outcome): void {
    this.requests.labels({ model: '', version: '', outcome }).inc();
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
