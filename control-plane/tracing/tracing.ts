// OpenTelemetry spans of the control plane's work (docs/tracing.md): GraphQL mutations
// (plugins/use-tracing.ts), rollout steps, analysis runs, promotions and aborts, sync pushes to
// gateways, and training jobs (dispatch, the run on the runner's executor, the finish).
//
// A span started while another is running in the same process is its child, found through an
// AsyncLocalStorage that `span()` fills, so a mutation that moves a rollout or pushes a new desired
// state to gateways is one trace with them. Control traffic is not a hot path: the spans are made
// as the work runs (start, attributes, end), unlike the gateway's, which are made after the answer.
// Off (`ControlPlaneTracing.off`), `span()` only calls its function.
import { AsyncLocalStorage } from 'node:async_hooks';
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ParentBasedSampler, TraceIdRatioBasedSampler, type BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { toSluiceError } from '../../lib/errors.js';
import { checkRatio, traceExportProvider, type TraceSettings } from '../../lib/trace-export.js';

export interface ControlPlaneTracingOptions extends TraceSettings {
  /** resource service.name (default sluice-control-plane; the runner's is sluice-runner). */
  serviceName?: string | undefined;
  /** Delay between exports, ms (default 1000). */
  exportDelayMs?: number | undefined;
}

export interface SpanOptions<T> {
  kind?: SpanKind | undefined;
  /** The parent (default: the span running in this async context, else a new trace). */
  parent?: Context | undefined;
  /** The outcome of a result that is not a thrown error: `success` or a SLUICE_E_* code (default `success`). */
  outcome?: ((result: T) => string) | undefined;
}

/** The span handed to work while tracing is off: it records nothing. */
const NOT_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

const W3C = new W3CTraceContextPropagator();
const HEADERS_GETTER = {
  get: (carrier: { get(name: string): string | null }, key: string) => carrier.get(key) ?? undefined,
  keys: () => ['traceparent', 'tracestate'],
};
const RECORD_SETTER = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };

export class ControlPlaneTracing {
  /** Tracing off: no provider, no async-context tracking. */
  static readonly off = new ControlPlaneTracing();

  readonly #provider: BasicTracerProvider | undefined;
  readonly #tracer: Tracer | undefined;
  /**
   * The running span's context. Node 20's AsyncLocalStorage hooks every promise of the process
   * once it is first used, so it is made only when tracing is on.
   */
  readonly #active: AsyncLocalStorage<Context> | undefined;

  constructor(o?: ControlPlaneTracingOptions) {
    if (o === undefined) return;
    const ratio = checkRatio(o.sampleRatio);
    this.#provider = traceExportProvider({
      endpoint: o.endpoint,
      serviceName: o.serviceName ?? 'sluice-control-plane',
      // A caller's sampled flag decides; a new trace is recorded with probability `ratio`.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
      exportDelayMs: o.exportDelayMs,
    });
    this.#tracer = this.#provider.getTracer('sluice-control-plane');
    this.#active = new AsyncLocalStorage<Context>();
  }

  get enabled(): boolean {
    return this.#tracer !== undefined;
  }

  /**
   * Run `fn` inside a new span: a child of `options.parent`, else of the span running here, else
   * the root of a new trace. The span ends when `fn` settles, with `sluice.outcome` = `success`
   * or the SLUICE_E_* code of what it threw (rethrown unchanged).
   */
  async span<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, options: SpanOptions<T> = {}): Promise<T> {
    if (this.#tracer === undefined) return fn(NOT_RECORDING);
    const parent = options.parent ?? this.#active!.getStore() ?? ROOT_CONTEXT;
    const span = this.#tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes }, parent);
    try {
      const result = await this.#active!.run(trace.setSpan(parent, span), () => fn(span));
      const outcome = options.outcome?.(result) ?? 'success';
      span.setAttribute('sluice.outcome', outcome);
      if (outcome !== 'success') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      return result;
    } catch (err) {
      const code = toSluiceError(err).code;
      span.setAttribute('sluice.outcome', code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      throw err;
    } finally {
      span.end();
    }
  }

  /** The caller's trace from W3C `traceparent`/`tracestate` headers; a new trace when absent or malformed. */
  remoteParent(headers: { get(name: string): string | null }): Context {
    return W3C.extract(ROOT_CONTEXT, headers, HEADERS_GETTER);
  }

  /** The headers that carry the running span to another process (empty when off or outside a span). */
  outgoingHeaders(): Record<string, string> {
    const out: Record<string, string> = {};
    const ctx = this.#active?.getStore();
    if (ctx !== undefined) W3C.inject(ctx, out, RECORD_SETTER);
    return out;
  }

  /** Send what is buffered (tests, shutdown); spans a collector refuses are dropped, not an error. */
  async flush(): Promise<void> {
    await this.#provider?.forceFlush().catch(() => undefined);
  }

  /**
   * Export what is left, then stop. An unreachable collector costs at most the exporter's timeout
   * and its spans are dropped: a shutdown never fails for tracing.
   */
  async close(): Promise<void> {
    await this.#provider?.shutdown().catch(() => undefined);
  }
}

export { SpanKind };
