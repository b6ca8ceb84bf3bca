// Where a Sluice call's time goes, from the gateway's own Prometheus metrics: scraped before and
// after a load point, the deltas of the _sum/_count pairs give the mean batch size and the mean
// time per stage (decode, queue, compute, decode-to-answer). What the client saw minus the
// decode-to-answer time is spent before decoding and after encoding: HTTP I/O and the event loop.

export interface MetricSums {
  /** `<metric>` → [sum, count] over every label set. */
  [metric: string]: [number, number];
}

export interface StageBreakdown {
  /** Rows per ORT run. */
  meanBatch: number;
  /** ms per call (compute: ms per batch). */
  decodeMs: number;
  queueMs: number;
  computeMsPerBatch: number;
  /** Decoded to answered, per call. */
  requestMs: number;
  calls: number;
}

const STAGES = {
  batch: 'sluice_inference_batch_size',
  decode: 'sluice_request_decode_duration_seconds',
  queue: 'sluice_inference_queue_duration_seconds',
  compute: 'sluice_inference_compute_duration_seconds',
  request: 'sluice_inference_request_duration_seconds',
} as const;

/** The _sum and _count of every histogram in a Prometheus text exposition, summed over labels. */
export function parseMetricSums(text: string): MetricSums {
  const out: MetricSums = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)_(sum|count)(?:\{[^}]*\})? ([0-9.eE+-]+|NaN)$/i.exec(line.trim());
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    const cur = (out[m[1]!] ??= [0, 0]);
    cur[m[2] === 'sum' ? 0 : 1] += v;
  }
  return out;
}

/** Stage means between two scrapes; null when the gateway ran nothing in between. */
export function stageBreakdown(before: MetricSums, after: MetricSums): StageBreakdown | null {
  const d = (name: string): [number, number] => {
    const a = after[name] ?? [0, 0];
    const b = before[name] ?? [0, 0];
    return [a[0] - b[0], a[1] - b[1]];
  };
  const mean = (name: string, scale: number) => {
    const [sum, count] = d(name);
    return count > 0 ? (sum / count) * scale : 0;
  };
  const [, batches] = d(STAGES.batch);
  if (batches <= 0) return null;
  return {
    meanBatch: mean(STAGES.batch, 1),
    decodeMs: mean(STAGES.decode, 1000),
    queueMs: mean(STAGES.queue, 1000),
    computeMsPerBatch: mean(STAGES.compute, 1000),
    requestMs: mean(STAGES.request, 1000),
    calls: d(STAGES.request)[1],
  };
}

/** Scrape `url`/metrics; null when the target has no Prometheus endpoint. */
export async function scrapeMetricSums(url: string): Promise<MetricSums | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    return parseMetricSums(await res.text());
  } catch {
    return null;
  }
}
