// OpenTelemetry traces of inference calls, exported over OTLP/HTTP (protobuf). The hot path only
// stamps times on a CallTrace (a plain object, made only when tracing is on); the spans themselves
// are made with those stamps as explicit start and end times once the answer has been written, so
// a traced call pays for its spans after its client has the answer.
//
// Per call (one trace, or the caller's): `infer <model>` (SERVER) with children `decode`, `queue`
// and `encode`. Per batch: one `batch <model>/<version>` span (the run in the worker) with a child
// `assemble`, linked to the `infer` span of every call in the batch: a batch serves several traces,
// so it is the root of its own trace (the OpenTelemetry convention for fan-in) and is sampled when
// any call in it is.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Context, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { parseTraceParent, TraceState } from '@opentelemetry/core';
import { BasicTracerProvider, RandomIdGenerator, SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { toSluiceError } from '../../lib/errors.js';
import { checkEndpoint, checkRatio, traceExportProvider } from '../../lib/trace-export.js';

export interface TracingOptions {
  /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  endpoint: string;
  /** Share of calls without a sampled parent that start a recorded trace, 0..1. */
  sampleRatio: number;
  /** resource service.name (default sluice-gateway). */
  serviceName?: string | undefined;
  /** Spans kept in memory for export (default 2048); past it new spans are dropped, never the calls. */
  maxQueueSize?: number | undefined;
  /** Delay between exports, ms (default 1000). */
  exportDelayMs?: number | undefined;
}

/** The W3C names (https://www.w3.org/TR/trace-context/): headers on HTTP, fields of a WebSocket frame. */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/** What one call stamps as it goes; times are performance.now() ms (0: the stage did not happen). */
export class CallTrace {
  readonly tracing: Tracing;
  readonly span: Span;
  readonly sampled: boolean;
  readonly receivedAt: number;
  model: string;
  version = '';
  decodeStart = 0;
  decodeEnd = 0;
  enqueuedAt = 0;
  dispatchedAt = 0;
  encodeStart = 0;
  encodeEnd = 0;
  /** Rows of the batch the call ran in. */
  batchRows = 0;
  /** Calls in that batch. */
  batchCalls = 0;

  constructor(tracing: Tracing, span: Span, model: string, receivedAt: number) {
    this.tracing = tracing;
    this.span = span;
    this.sampled = span.isRecording();
    this.model = model;
    this.receivedAt = receivedAt;
  }

  /** The `traceparent` to answer with: the caller's trace, this gateway's span in it. */
  get traceparent(): string {
    const c = this.span.spanContext();
    return `00-${c.traceId}-${c.spanId}-0${c.traceFlags & 1}`;
  }

  /** The caller's `tracestate`, handed back unchanged (undefined when it sent none). */
  get tracestate(): string | undefined {
    return this.span.spanContext().traceState?.serialize();
  }
}

/** What a batch stamps: times are performance.now() ms. */
export interface BatchStamps {
  model: string;
  version: string;
  rows: number;
  assembleStart: number;
  assembleEnd: number;
  end: number;
  /** The SLUICE_E_* code when the run failed. */
  error?: string | undefined;
  computeSeconds?: number | undefined;
}

const SAMPLED: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
const NOT_SAMPLED: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

/**
 * Parent-based sampling. The ratio for new traces is drawn in Tracing.begin, before the SDK is
 * asked, so a call's root span reaches this sampler only once it is in the sample; a batch span
 * (no parent, only links) is recorded when any call it serves is, so a sampled call's batch is
 * never missing and an unsampled batch costs nothing.
 */
class CallSampler implements Sampler {
  shouldSample(ctx: Context, _traceId: string, _name: string, _kind: SpanKind, _attributes: Attributes, links: Link[]): SamplingResult {
    const parent = trace.getSpanContext(ctx);
    if (parent !== undefined) return (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? SAMPLED : NOT_SAMPLED;
    if (links.length === 0) return SAMPLED;
    for (const l of links) if ((l.context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) return SAMPLED;
    return NOT_SAMPLED;
  }
  toString(): string {
    return 'CallSampler';
  }
}

export class Tracing {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #ids = new RandomIdGenerator();
  readonly sampleRatio: number;
  readonly endpoint: string;

  constructor(o: TracingOptions) {
    this.sampleRatio = checkRatio(o.sampleRatio);
    this.endpoint = checkEndpoint(o.endpoint);
    this.#provider = traceExportProvider({
      endpoint: this.endpoint, serviceName: o.serviceName ?? 'sluice-gateway', sampler: new CallSampler(), maxQueueSize: o.maxQueueSize, exportDelayMs: o.exportDelayMs,
    });
    this.#tracer = this.#provider.getTracer('sluice-gateway');
  }

  /**
   * Start a call's trace: under the caller's `traceparent` when it is valid (its sampled flag
   * decides), else a new trace sampled by the ratio. A malformed traceparent starts a new trace:
   * tracing never fails a call.
   */
  begin(traceparent: string | undefined, tracestate: string | undefined, model: string, receivedAt: number): CallTrace {
    let parent = ROOT_CONTEXT;
    if (traceparent !== undefined && traceparent !== '') {
      const remote = parseTraceParent(traceparent);
      if (remote !== null) {
        if (tracestate !== undefined && tracestate !== '') remote.traceState = new TraceState(tracestate);
        parent = trace.setSpanContext(ROOT_CONTEXT, remote);
      }
    }
    if (parent === ROOT_CONTEXT && !(Math.random() < this.sampleRatio)) {
      // Not drawn into the sample: fresh ids on a non-recording span, without the SDK's span
      // machinery, which cost 2.7 µs of main-thread CPU on every such call (most calls at a 1% ratio).
      const ids = { traceId: this.#ids.generateTraceId(), spanId: this.#ids.generateSpanId(), traceFlags: TraceFlags.NONE };
      return new CallTrace(this, trace.wrapSpanContext(ids), model, receivedAt);
    }
    const span = this.#tracer.startSpan(`infer ${model}`, { kind: SpanKind.SERVER, startTime: epochMs(receivedAt) }, parent);
    return new CallTrace(this, span, model, receivedAt);
  }

  /** End a call's trace: its stage spans from the stamps, then the call's own span. */
  finish(t: CallTrace, err?: unknown): void {
    if (!t.sampled) return;
    const end = performance.now();
    const span = t.span;
    const parent = trace.setSpan(ROOT_CONTEXT, span);
    const attrs: Attributes = { 'sluice.model': t.model };
    if (t.version !== '') attrs['sluice.version'] = t.version;
    if (t.batchCalls > 0) {
      attrs['sluice.batch.size'] = t.batchRows;
      attrs['sluice.batch.calls'] = t.batchCalls;
    }
    this.#child('decode', t.decodeStart, t.decodeEnd, parent, attrs);
    this.#child('queue', t.enqueuedAt, t.dispatchedAt, parent, attrs);
    this.#child('encode', t.encodeStart, t.encodeEnd, parent, attrs);
    span.setAttributes(attrs);
    if (err === undefined) {
      span.setAttribute('sluice.outcome', 'success');
    } else {
      const e = toSluiceError(err);
      span.setAttribute('sluice.outcome', e.code);
      span.setAttribute('http.response.status_code', e.status);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
    }
    span.end(epochMs(t.encodeEnd > 0 ? t.encodeEnd : end));
  }

  /** The batch's run in the worker: one span, linked to the span of every call in it. */
  batch(calls: readonly (CallTrace | undefined)[], b: BatchStamps): void {
    if (!calls.some((c) => c?.sampled === true)) return;
    const links: Link[] = [];
    for (const c of calls) if (c !== undefined) links.push({ context: c.span.spanContext() });
    const attrs: Attributes = { 'sluice.model': b.model, 'sluice.version': b.version, 'sluice.batch.size': b.rows, 'sluice.batch.calls': calls.length, 'sluice.outcome': b.error ?? 'success' };
    if (b.computeSeconds !== undefined) attrs['sluice.compute_ms'] = b.computeSeconds * 1000;
    const span = this.#tracer.startSpan(`batch ${b.model}/${b.version}`, { kind: SpanKind.INTERNAL, startTime: epochMs(b.assembleStart), links, attributes: attrs }, ROOT_CONTEXT);
    if (!span.isRecording()) return;
    this.#child('assemble', b.assembleStart, b.assembleEnd, trace.setSpan(ROOT_CONTEXT, span), { 'sluice.batch.size': b.rows });
    if (b.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: b.error });
    span.end(epochMs(b.end));
  }

  /** Send what is buffered (tests, shutdown). */
  flush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  /** Export what is left, then stop. An unreachable endpoint costs at most the exporter's timeout. */
  async close(): Promise<void> {
    await this.#provider.shutdown();
  }

  #child(name: string, start: number, end: number, parent: Context, attrs: Attributes): void {
    if (start === 0 || end < start) return;
    this.#tracer.startSpan(name, { startTime: epochMs(start), attributes: attrs }, parent).end(epochMs(end));
  }
}

/** performance.now() ms → epoch ms, the time OpenTelemetry records. */
function epochMs(at: number): number {
  return performance.timeOrigin + at;
}
