// The OpenTelemetry export both planes share (docs/tracing.md): a tracer provider that sends spans
// over OTLP/HTTP (protobuf) with the official SDK, and the checks of its two settings. Each plane
// brings its own sampler and spans; only the export and the settings' rules are common.
import { BasicTracerProvider, BatchSpanProcessor, type Sampler } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { SluiceError } from './errors.js';

/** What `--otlp-endpoint` and `--trace-sample-ratio` give either plane. */
export interface TraceSettings {
  endpoint: string;
  /** Share of traces without a sampled parent that are recorded, 0..1. */
  sampleRatio: number;
}

export interface TraceExportOptions {
  /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  endpoint: string;
  /** resource service.name. */
  serviceName: string;
  sampler: Sampler;
  /** Spans kept in memory for export (default 2048); past it new spans are dropped, never the work traced. */
  maxQueueSize?: number | undefined;
  /** Delay between exports, ms (default 1000). */
  exportDelayMs?: number | undefined;
}

/** A provider exporting to `endpoint` (checked: SLUICE_E_CONFIG_INVALID names the option). */
export function traceExportProvider(o: TraceExportOptions): BasicTracerProvider {
  const exporter = new OTLPTraceExporter({ url: checkEndpoint(o.endpoint) });
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName }),
    sampler: o.sampler,
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: o.maxQueueSize ?? 2048, scheduledDelayMillis: o.exportDelayMs ?? 1000 })],
  });
}

export function checkRatio(ratio: number): number {
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `trace sample ratio must be a number from 0 to 1, got ${String(ratio)}`, { details: { option: 'trace-sample-ratio' } });
  }
  return ratio;
}

export function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `OTLP endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`, { cause: err, details: { option: 'otlp-endpoint' } });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `OTLP endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`, { details: { option: 'otlp-endpoint' } });
  }
  return url.href;
}
