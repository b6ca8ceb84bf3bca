// The transport-independent entry point: a decoded inference call in (from HTTP JSON, the binary
// extension or a WebSocket frame), its outputs out, every failure a SluiceError. Routing,
// validation against the model's signature, batching and metrics all happen here, once.
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { outcomeOf } from '../metrics/metrics.js';
import type { ModelRepository } from '../models/repository.js';
import type { LoadedVersion } from '../models/loaded-version.js';
import type { Tensor } from '../models/tensors.js';
import type { Preprocessor } from '../preprocess/preprocessor.js';
import { shapeKey } from '../batching/assemble.js';
import { TrafficWindows, type VersionTraffic } from '../routing/traffic.js';
import { GroundTruth, type VersionFeedback } from '../feedback/ground-truth.js';
import { FeedbackForwarding } from '../feedback/feedback-forwarding.js';
import { FeedbackPeers } from '../feedback/feedback-peers.js';
import { AttributionWindows } from '../explain/attribution-windows.js';
import { Explainer } from '../explain/explainer.js';
import { ROUTE_KEY_HEADER, PREVIEW_HEADER } from '../../lib/sync-wire.js';
import { Mirror, type PendingCopy } from './mirror.js';
import { prepare } from './prepare.js';
import type { InferenceRequest, InferenceResponse, OutputTensor } from './request.js';
import type { PayloadTap } from './payload-tap.js';
import type { Tracing } from '../tracing/tracing.js';

export type { InferenceRequest, InferenceResponse, OutputTensor, RequestedOutput } from './request.js';
export type { PayloadTap } from './payload-tap.js';

/** What a call says about where it goes besides its URL: a route key, a preview flag, OIP parameters carrying either. */
export type RouteHints = Pick<InferenceRequest, 'routeKey' | 'preview' | 'parameters'>;

export class InferenceService {
  readonly #repository: ModelRepository;
  readonly #metrics: GatewayMetrics;
  #preprocessor: Preprocessor | undefined;
  #tap: PayloadTap | undefined;
  #draining = false;
  /** Traces of calls (gateway/tracing), when an OTLP endpoint is set; the transports begin and finish them. */
  tracing: Tracing | undefined;
  #idle: (() => void) | undefined;
  /** Every version's traffic window (the control-plane sync reports them). */
  readonly traffic = new TrafficWindows();
  readonly #windows = new WeakMap<LoadedVersion, VersionTraffic>();
  readonly #mirror: Mirror;
  /** Answer ids and the feedback joined to them (gateway/feedback). */
  readonly feedback: GroundTruth;
  /** The other live gateways (under a control plane) and the feedback sent to the one holding an answer. */
  readonly peers = new FeedbackPeers();
  readonly feedbackForwarding: FeedbackForwarding;
  /** Explanations (the explain routes) and the attribution windows of sampled calls (gateway/explain). */
  readonly attributions = new AttributionWindows(new Explainer());

  constructor(repository: ModelRepository, metrics: GatewayMetrics) {
    this.#repository = repository;
    this.#metrics = metrics;
    this.feedback = new GroundTruth({ repository, metrics, traffic: this.traffic });
    this.feedbackForwarding = new FeedbackForwarding(this.feedback, this.peers);
    // Issue 22's figures ride the traffic windows to the control plane, beside drift.
    this.traffic.explained.attribution = (model, version) => this.attributions.snapshot(model, version);
    this.traffic.explained.slices = (model, version) => this.feedback.sliceStats(model, version);
    this.#mirror = new Mirror(repository, metrics, (v) => this.#windowOf(v), () => this.#draining);
  }

  /** The traffic window of a version, cached per loaded version so the hot path does no string work. */
  #windowOf(v: LoadedVersion): VersionTraffic {
    let w = this.#windows.get(v);
    if (w === undefined) {
      w = this.traffic.of(v.name, v.version);
      this.#windows.set(v, w);
    }
    return w;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Calls accepted and not yet answered. */
  get inFlight(): number {
    return this.#repository.load.inFlight;
  }

  setPreprocessor(preprocessor: Preprocessor): void {
    this.#preprocessor = preprocessor;
  }

  /** Sampled calls of models whose config has `payload_log` go to this tap (gateway/payload-log). */
  setPayloadTap(tap: PayloadTap | undefined): void {
    this.#tap = tap;
  }

  /**
   * Refuse a call that infer() would refuse for its model (or version) not being loaded, or the
   * gateway draining, before its body is decoded: same error, same metric, no routing.
   */
  checkServed(model: string, version?: string): void {
    try {
      if (this.#draining) throw new SluiceError('SLUICE_E_HTTP_DRAINING', 'the gateway is shutting down', { retryAfter: 1 });
      this.#served(model, version);
    } catch (err) {
      const e = toSluiceError(err);
      this.#metrics.countUnrouted(outcomeOf(e.code, e.status));
      throw e;
    }
  }

  #served(model: string, version: string | undefined): { model: NonNullable<ReturnType<ModelRepository['model']>>; version: LoadedVersion | undefined } {
    const m = this.#repository.model(model);
    if (m === undefined) {
      if (version === undefined && this.#repository.isUnrouted(model)) throw notRouted(model);
      throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${model} is not loaded`);
    }
    if (version === undefined) return { model: m, version: undefined };
    const v = m.versions.get(version);
    if (v === undefined) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model} has no version ${version}`);
    return { model: m, version: v };
  }

  /**
   * The loaded version a call goes to: `version` if given; else, for a preview call, the active
   * rollout's candidate; else the routing table's pick (by the route key under a sticky rollout).
   */
  resolve(model: string, version?: string, hints?: RouteHints): LoadedVersion {
    const served = this.#served(model, version);
    if (served.version !== undefined) return served.version;
    const m = served.model;
    const routing = m.routing;
    let picked: string | undefined;
    if (hints !== undefined && routing.rollout !== undefined && isPreview(hints)) {
      picked = routing.preview(m.readyVersions);
      if (picked === undefined) throw new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${model} has no ready rollout candidate to preview`, { retryAfter: 1 });
    } else {
      picked = routing.pick(m.readyVersions, Math.random(), hints === undefined ? undefined : routeKeyOf(hints));
    }
    if (picked === undefined && !routing.routed) throw notRouted(model);
    const v = picked === undefined ? undefined : m.versions.get(picked);
    if (v === undefined) throw m.notServing();
    return v;
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const started = request.receivedAt ?? performance.now();
    if (this.#draining) {
      this.#metrics.countUnrouted('rejected');
      throw new SluiceError('SLUICE_E_HTTP_DRAINING', 'the gateway is shutting down', { retryAfter: 1 });
    }
    let version: LoadedVersion;
    try {
      version = this.resolve(request.model, request.version, request);
    } catch (err) {
      const e = toSluiceError(err);
      this.#metrics.countUnrouted(outcomeOf(e.code, e.status));
      throw e;
    }
    const m = version.metrics;
    if (request.trace !== undefined) request.trace.version = version.version;
    this.#repository.load.arrive();
    m.inFlight.inc();
    // Captured before the inputs move to the worker (and before preprocessing replaces them).
    const logged = this.#tap !== undefined && version.config.payload_log !== undefined ? this.#tap.capture(version, request) : undefined;
    try {
      if (this.#preprocessor !== undefined && version.config.preprocess !== undefined) {
        // Admission before decoding: a full queue refuses before any image takes the thread pool.
        version.batcher.checkRoom();
        const inputs = await this.#preprocessor(version, request.inputs);
        if (inputs !== request.inputs) request = withInputs(request, inputs);
        // A reload or a rollback may have swapped versions while we waited: follow the routing again.
        if (version.state !== 'READY' && (request.version === undefined || request.routedVersion === true)) version = this.resolve(request.model, undefined, request);
      }
      if (version.state !== 'READY') throw version.notReady();
      const prepared = prepare(version, request);
      if (request.trace !== undefined) {
        prepared.trace = request.trace;
        request.trace.version = version.version;
      }
      const params = request.parameters ?? NO_PARAMETERS;
      const rollout = this.#repository.model(version.name)?.routing.rollout;
      // A copy for the rollout's other version is decided now: the inputs are moved to the worker
      // with the batch, so the copy takes its own first. Calls that chose their version (URL,
      // preview) are not part of the rollout's sample.
      let copy: PendingCopy | undefined;
      if (rollout !== undefined && rollout.mirrorShare > 0 && (request.version === undefined || request.routedVersion === true) && !isPreview(request)) {
        const target = rollout.mirrorOf(version.version, Math.random());
        if (target !== undefined) copy = this.#mirror.prepare(version.name, target, rollout, prepared);
      }
      // A sampled row is copied now: the inputs move to the worker with the batch.
      const sampled = version.config.explain !== undefined && version.config.explain.sample_fraction > 0 ? this.attributions.sample(version, prepared) : undefined;
      // So is the slice of each row (config slices): the answer keeps it for the feedback it may get.
      const sliced = version.config.slices === undefined ? undefined : this.feedback.of(version)?.slices?.read(params, prepared);
      const tensors = await version.enqueue(prepared, {
        rows: prepared.rows,
        // Fixed dims are already checked equal by prepare(): only variable ones can split batches.
        shapeKey: version.batched && version.variableShape ? shapeKey(prepared.inputs, true) : '',
        priority: intParam(params, 'priority'),
        timeoutUs: remainingUs(intParam(params, 'timeout_us'), started),
        signal: request.signal,
      });
      // A version that takes feedback keeps the answer's predictions under its id (the caller's, else a new one).
      const fb: VersionFeedback | null = this.feedback.of(version);
      const id = fb === null ? request.id : this.feedback.record(fb, request.id, tensors, prepared.rows, sliced);
      const response = { model: version.name, version: version.version, id, outputs: selectOutputs(version, request, tensors) };
      m.count('success');
      const ms = performance.now() - started;
      m.requestDuration.observe(ms / 1000);
      const window = this.#windowOf(version);
      window.follow(rollout?.window);
      window.call(ms, false);
      if (rollout !== undefined) window.answered(tensors);
      if (copy !== undefined) this.#mirror.send(copy, tensors, version.batched);
      if (logged !== undefined) this.#tap!.answered(logged, response, ms);
      if (sampled !== undefined) this.attributions.explainLater(version, sampled);
      return response;
    } catch (err) {
      const e = toSluiceError(err);
      if (logged !== undefined) this.#tap!.failed(logged, e, performance.now() - started);
      const outcome = outcomeOf(e.code, e.status);
      m.count(outcome);
      // Windows judge the version on its own failures and count refusals at admission (full or late
      // queue, decode slots, unloading) apart; a caller's mistake or cancel is not the version's.
      // A timeout is its own: admission already refused a call the queue could not reach in time.
      if (outcome === 'server_error' || outcome === 'timeout' || outcome === 'rejected') {
        const window = this.#windowOf(version);
        window.follow(this.#repository.model(version.name)?.routing.rollout?.window);
        if (outcome === 'rejected') window.refuse();
        else window.call(performance.now() - started, true);
      }
      throw e;
    } finally {
      m.inFlight.dec();
      this.#repository.load.depart();
      if (this.#repository.load.inFlight === 0 && this.#idle) this.#idle();
    }
  }

  /** Refuse new calls (503) and wait for the accepted ones, at most `timeoutMs`. Resolves false on timeout. */
  drain(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    if (this.#repository.load.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

/** The route key of a call: the header, else the OIP request parameter of the same name. */
function routeKeyOf(hints: RouteHints): string | undefined {
  if (hints.routeKey !== undefined) return hints.routeKey;
  const p = hints.parameters?.[ROUTE_KEY_HEADER];
  if (p === undefined) return undefined;
  if (typeof p === 'string') return p;
  if (typeof p === 'number' && Number.isFinite(p)) return String(p);
  throw new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', `parameter ${ROUTE_KEY_HEADER} must be a string`);
}

/** A preview call: the header, or the OIP request parameter `sluice-preview` set to anything but false. */
function isPreview(hints: RouteHints): boolean {
  if (hints.preview === true) return true;
  const p = hints.parameters?.[PREVIEW_HEADER];
  return p !== undefined && p !== false;
}

function intParam(params: Record<string, unknown>, name: string): number | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', `parameter ${name} must be a non-negative integer`);
  }
  return v;
}

function selectOutputs(version: LoadedVersion, request: InferenceRequest, tensors: Tensor[]): OutputTensor[] {
  // Plain loops and object literals: this runs once per call (no closures, no object spread).
  // Sized up front: a push onto [] allocates room for 16.
  const binaryDefault = request.binaryOutput === true;
  const wanted = request.outputs;
  if (wanted === undefined) {
    const out: OutputTensor[] = new Array(version.outputs.length);
    let n = 0;
    for (const s of version.outputs) {
      const t = tensorNamed(tensors, s.name);
      if (t !== undefined) out[n++] = { name: t.name, datatype: t.datatype, shape: t.shape, data: t.data, binary: binaryDefault };
    }
    out.length = n;
    return out;
  }
  const out: OutputTensor[] = new Array(wanted.length);
  for (let i = 0; i < wanted.length; i++) {
    const o = wanted[i]!;
    const t = tensorNamed(tensors, o.name)!;
    out[i] = { name: t.name, datatype: t.datatype, shape: t.shape, data: t.data, binary: o.binary ?? binaryDefault };
  }
  return out;
}

function tensorNamed(tensors: readonly Tensor[], name: string): Tensor | undefined {
  for (const t of tensors) if (t.name === name) return t;
  return undefined;
}

/**
 * A call's deadline counts from when its headers were read, not from when it reaches the queue:
 * reading the body, decoding and preprocessing spend it too. At least 1 µs, so a call whose time is
 * already gone is answered 504 at once; 0 and undefined (no deadline of its own) pass unchanged.
 */
function remainingUs(timeoutUs: number | undefined, startedMs: number): number | undefined {
  if (timeoutUs === undefined || timeoutUs === 0) return timeoutUs;
  return Math.max(1, Math.floor(timeoutUs - (performance.now() - startedMs) * 1000));
}

/**
 * `r` with other inputs, as one literal of the call's fixed shape (a spread is slow in V8 here:
 * docs/batching.md). `satisfies` makes a field added to InferenceRequest an error until it is copied.
 */
function withInputs(r: InferenceRequest, inputs: Tensor[]): InferenceRequest {
  return {
    model: r.model, version: r.version, id: r.id, inputs, outputs: r.outputs, binaryOutput: r.binaryOutput, parameters: r.parameters, signal: r.signal,
    routedVersion: r.routedVersion, routeKey: r.routeKey, preview: r.preview, receivedAt: r.receivedAt, trace: r.trace,
  } satisfies { [K in keyof Required<InferenceRequest>]: InferenceRequest[K] };
}

/** A call without parameters reads this one (no object per call). */
const NO_PARAMETERS: Readonly<Record<string, unknown>> = Object.freeze({});

/** A model the control plane serves nothing of by name: no `production` alias and no active rollout. */
function notRouted(model: string): SluiceError {
  return new SluiceError('SLUICE_E_MODEL_NOT_ROUTED', `model ${model} has no routed version: it has no production alias and no active rollout (call a version by number, or set the alias)`, {
    details: { model },
  });
}
