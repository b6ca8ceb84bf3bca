// The tracing flags (issue 22, docs/tracing.md) of `sluice gateway`, `sluice control-plane`,
// `sluice runner` and `sluice serve` (which hands them to its gateway, control plane and runner).
import { SluiceError } from '../lib/errors.js';
import type { TraceSettings } from '../lib/trace-export.js';

export const TRACING_FLAGS = {
  'otlp-endpoint': { type: 'string', placeholder: 'url', description: 'export traces over OTLP/HTTP (protobuf) to this URL, e.g. http://127.0.0.1:4318/v1/traces; off by default' },
  'trace-sample-ratio': { type: 'string', default: '0.01', placeholder: '0..1', description: 'share of calls and mutations without a sampled traceparent that start a recorded trace' },
} as const;

export interface TracingFlagValues {
  'otlp-endpoint'?: string | undefined;
  'trace-sample-ratio': string;
}

/** The tracing settings; undefined (tracing off) without --otlp-endpoint. */
export function tracingOptions(v: TracingFlagValues): TraceSettings | undefined {
  const text = v['trace-sample-ratio'];
  const ratio = text.trim() === '' ? NaN : Number(text);
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--trace-sample-ratio must be a number from 0 to 1, got "${text}"`, { details: { flag: 'trace-sample-ratio' } });
  }
  if (v['otlp-endpoint'] === undefined || v['otlp-endpoint'] === '') return undefined;
  return { endpoint: v['otlp-endpoint'], sampleRatio: ratio };
}
