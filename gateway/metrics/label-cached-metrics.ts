// Metrics observed on every call, made cheap: prom-client's labelled children hash their label
// object on every observe/inc (sort, join, validate), a few microseconds per call spread over six
// metrics, on the main thread that bounds the gateway's throughput for small models. Here a child
// is resolved once per label set and an observation is a bucket search and three additions; the
// exposition (`get()`, at scrape time) is what prom-client's Registry expects of any metric.

type Labels = Record<string, string>;

interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** What prom-client's Registry reads from a registered metric. */
interface Exposition {
  name: string;
  help: string;
  type: 'histogram' | 'counter' | 'gauge';
  values: MetricValue[];
  aggregator: 'sum';
}

export interface HistogramChild {
  observe(value: number): void;
}

class HistogramSeries implements HistogramChild {
  readonly labels: Labels;
  readonly #bounds: Float64Array;
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Labels, bounds: Float64Array) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return; // a clock glitch must not poison the sum
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A Prometheus histogram with fixed label names; register it with `registry.registerMetric`. */
export class LabelCachedHistogram {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly #bounds: Float64Array;
  readonly #series = new Map<string, HistogramSeries>();

  constructor(options: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.#bounds = Float64Array.from([...options.buckets].sort((a, b) => a - b));
  }

  /** The series of one label set: resolve it once and keep it. */
  labels(labels: Labels): HistogramChild {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(labels, this.#bounds);
      this.#series.set(key, s);
    }
    return s;
  }

  /** Forget a label set (a model version that was unloaded). */
  remove(labels: Labels): void {
    this.#series.delete(this.labelNames.map((n) => labels[n] ?? '').join('\u0000'));
  }

  get(): Exposition {
    const values: MetricValue[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ value: cumulative, labels: { le: String(this.#bounds[i]), ...s.labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket` });
      values.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** Counters or gauges read from plain numbers at scrape time: the hot path only adds to a field. */
export class SampledMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly #read: () => Iterable<{ labels: Labels; value: number }>;

  constructor(options: { name: string; help: string; type: 'counter' | 'gauge'; read: () => Iterable<{ labels: Labels; value: number }> }) {
    this.name = options.name;
    this.help = options.help;
    this.type = options.type;
    this.#read = options.read;
  }

  get(): Exposition {
    const values: MetricValue[] = [];
    for (const v of this.#read()) values.push({ value: v.value, labels: v.labels });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}
