// Latencies in an HDR histogram, recorded in microseconds: 3 significant digits from 1 µs to an
// hour, so p99.9 of a 2 ms service and of a 20 s overload tail are both exact to 0.1%. A generator
// process sends its histogram to the runner as compressed base64 (HdrHistogram's own encoding), so
// several generators merge without losing the tail.
import * as hdr from 'hdr-histogram-js';

const HIGHEST_US = 3_600_000_000;

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class LatencyHistogram {
  readonly #h: hdr.Histogram;

  constructor(from?: hdr.Histogram) {
    this.#h = from ?? hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: true });
  }

  static decode(encoded: string): LatencyHistogram {
    return new LatencyHistogram(hdr.decodeFromCompressedBase64(encoded));
  }

  /** Record one latency given in (fractional) milliseconds. */
  recordMs(ms: number): void {
    this.#h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.#h.totalCount;
  }

  /** Latency at `percentile` (0..100), in milliseconds. */
  percentileMs(percentile: number): number {
    return this.#h.totalCount === 0 ? 0 : this.#h.getValueAtPercentile(percentile) / 1000;
  }

  add(other: LatencyHistogram): void {
    this.#h.add(other.#h);
  }

  reset(): void {
    this.#h.reset();
  }

  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.#h);
  }

  summary(): LatencySummary {
    const empty = this.#h.totalCount === 0;
    return {
      count: this.#h.totalCount,
      mean: empty ? 0 : this.#h.mean / 1000,
      p50: this.percentileMs(50),
      p90: this.percentileMs(90),
      p99: this.percentileMs(99),
      p999: this.percentileMs(99.9),
      // The bucket's highest equivalent value, as every percentile is: the same before and after encoding.
      max: this.percentileMs(100),
    };
  }
}
