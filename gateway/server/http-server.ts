// The HTTP face of the gateway: Open Inference Protocol routes, the repository extension and
// /metrics on one uWS app. Other endpoints (WebSocket, drift) register on the same app through
// `app` before listen; this module only owns the routes below.
import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { SluiceError, isSluiceError } from '../../lib/errors.js';
import { nextRequestId, type Logger } from '../../lib/log.js';
import type { InferenceService } from '../inference/inference-service.js';
import type { InferenceRequest, InferenceResponse } from '../inference/request.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { LoadedVersion } from '../models/loaded-version.js';
import type { ModelRepository } from '../models/repository.js';
import { imageBodyInputs } from '../preprocess/preprocessor.js';
import type { GatewayAccess } from '../access/access-policy.js';
import { admit, Need, preflight } from './access-gate.js';
import { HttpCall, onPreflight, param, preflighted, readBody, readBodyTo, releaseBody, route, type BodySink } from './http-io.js';
import { setAdmission, type Admission } from './admission.js';
import { feedbackRoutes } from './feedback-routes.js';
import { PREVIEW_HEADER, ROUTE_KEY_HEADER } from '../../lib/sync-wire.js';
import { decodeInferenceRequest, decodeRawBinaryRequest, encodeInferenceResponse, parseJsonHeader, type DecodedInferenceRequest } from './oip-codec.js';
import { TRACEPARENT, TRACESTATE, type CallTrace } from '../tracing/tracing.js';

export const SERVER_NAME = 'sluice';
export const SERVER_VERSION = '0.1.0';
const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'schedule_policy', 'sequence_batching_disabled'];

export interface HttpServerOptions {
  /** The app the routes go on (gateway/server/uws-app.ts: plain or TLS). */
  app: TemplatedApp;
  inference: InferenceService;
  repository: ModelRepository;
  metrics: GatewayMetrics;
  maxBodyBytes: number;
  logger: Logger;
  /** False until the startup loads finish, and again while draining. */
  isReady: () => boolean;
  /** The gate at the top of every route but health. */
  access: GatewayAccess;
  /** The front every route but health and /metrics goes through (admission.ts); none when absent. */
  admission?: Admission | undefined;
}

/** Put every OIP route on the app; the caller adds its own routes and listens. */
export function createHttpApp(o: HttpServerOptions): TemplatedApp {
  const app = o.app;
  const { access } = o;
  onPreflight(app, (res, req) => preflight(access, res, req));
  if (o.admission !== undefined) setAdmission(app, o.admission);
  serverRoutes(app, o);
  modelRoutes(app, o);
  const infer = new InferRoute(o);
  route(app, 'post', ['/v2/models/:name/infer'], (call, req) => {
    const name = param(req, 0);
    if (admit(access, call, req, Need.Infer, name)) infer.handle(call, req, name, undefined);
  });
  route(app, 'post', ['/v2/models/:name/versions/:version/infer'], (call, req) => {
    const name = param(req, 0);
    if (admit(access, call, req, Need.Infer, name)) infer.handle(call, req, name, param(req, 1));
  });
  feedbackRoutes(app, { inference: o.inference, access, maxBodyBytes: o.maxBodyBytes, fail: (call, err) => fail(o.logger, call, err) });
  repositoryRoutes(app, o);
  route(app, 'get', ['/metrics'], (call, req) => {
    if (admit(access, call, req, Need.Metrics)) metricsRoute(o.metrics, call);
  });
  app.any('/*', (res, req) => {
    if (preflighted(app, res, req)) return;
    // The same text for every method, so a HEAD reports the length its GET would get.
    new HttpCall(res, req.getMethod() === 'head').error(new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `no route for ${req.getUrl()}`));
  });
  return app;
}

/** GET /metrics: the Prometheus text (also the whole of the --metrics-port listener). */
export function metricsRoute(metrics: GatewayMetrics, call: HttpCall): void {
  metrics.render().then(
    (m) => call.send(200, m.contentType, m.body),
    (err: unknown) => call.error(err),
  );
}

/**
 * Answer with an error. A server-side failure (5xx, or not a SluiceError: a bug) is logged with
 * a request id that the answer carries too; client errors are not logged (no per-request logs).
 */
function fail(logger: Logger, call: HttpCall, err: unknown, trace?: CallTrace): void {
  const headers = trace === undefined ? undefined : traceHeaders(trace);
  if (isSluiceError(err) && err.status < 500) return call.error(err, undefined, headers);
  const req = nextRequestId();
  logger.error({ err, req }, 'request failed');
  call.error(err, req, headers);
}

/** The W3C headers an answer carries back: the call's trace, this gateway's span in it. */
function traceHeaders(trace: CallTrace): Record<string, string> {
  const headers: Record<string, string> = { [TRACEPARENT]: trace.traceparent };
  const state = trace.tracestate;
  if (state !== undefined) headers[TRACESTATE] = state;
  return headers;
}

/** Server metadata (`/v2`, and `/v2/` as the protocol's YAML spells it) and health. */
function serverRoutes(app: TemplatedApp, o: HttpServerOptions): void {
  const metadata = JSON.stringify({ name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS });
  // Server metadata names no model: any token that may infer may read it.
  route(app, 'get', ['/v2', '/v2/'], (call, req) => {
    if (admit(o.access, call, req, Need.Infer)) call.json(200, metadata);
  });
  route(app, 'get', ['/v2/health/live'], (call) => call.json(200, '{"live":true}'));
  route(app, 'get', ['/v2/health/ready'], (call) => {
    if (o.isReady()) call.json(200, '{"ready":true}');
    else call.error(new SluiceError('SLUICE_E_HTTP_DRAINING', 'the gateway is not ready', { retryAfter: 1 }));
  });
}

/** Model metadata and readiness, for the routed version or a named one. */
function modelRoutes(app: TemplatedApp, o: HttpServerOptions): void {
  const { inference, repository, access } = o;
  const metadata = (call: HttpCall, name: string, version: string | undefined): void => {
    try {
      call.json(200, JSON.stringify(modelMetadata(inference.resolve(name, version), repository)));
    } catch (err) {
      call.error(err);
    }
  };
  route(app, 'get', ['/v2/models/:name'], (call, req) => {
    const name = param(req, 0);
    if (admit(access, call, req, Need.Infer, name)) metadata(call, name, undefined);
  });
  route(app, 'get', ['/v2/models/:name/versions/:version'], (call, req) => {
    const name = param(req, 0);
    if (admit(access, call, req, Need.Infer, name)) metadata(call, name, param(req, 1));
  });

  const ready = (call: HttpCall, name: string, version: string | undefined): void => {
    try {
      const v = inference.resolve(name, version);
      if (v.state === 'UNAVAILABLE') throw v.notReady();
      if (v.state !== 'READY' || inference.draining) {
        throw new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${name} version ${v.version} is not ready`, { retryAfter: 1 });
      }
      call.json(200, JSON.stringify({ name, version: v.version, ready: true }));
    } catch (err) {
      call.error(err);
    }
  };
  route(app, 'get', ['/v2/models/:name/ready'], (call, req) => {
    const name = param(req, 0);
    if (admit(access, call, req, Need.Infer, name)) ready(call, name, undefined);
  });
  route(app, 'get', ['/v2/models/:name/versions/:version/ready'], (call, req) => {
    const name = param(req, 0);
    if (admit(access, call, req, Need.Infer, name)) ready(call, name, param(req, 1));
  });
}

/** What an infer call's headers say about its body, read before the handler returns (uWS rule). */
const enum BodyKind {
  /** The whole body is the JSON request. */
  Json,
  /** JSON header of Inference-Header-Content-Length bytes, then binary tensor data. */
  Binary,
  /** Inference-Header-Content-Length: 0: the body is the one input's raw bytes. */
  RawBinary,
  /** Content-Type image/*: the body is one encoded image for the model's image input. */
  Image,
}

/**
 * An infer call between its headers and its body: what the headers said, kept in one object (not
 * a promise chain of closures) until readBodyTo() hands over the body.
 */
class PendingInfer implements BodySink {
  constructor(
    readonly route: InferRoute,
    readonly call: HttpCall,
    readonly kind: BodyKind,
    readonly headerLengthText: string,
    readonly name: string,
    readonly version: string | undefined,
    readonly receivedAt: number,
    readonly routeKey: string | undefined,
    readonly preview: boolean,
    readonly trace: CallTrace | undefined,
  ) {}

  body(body: Buffer): void {
    void this.route.run(this, body);
  }

  bodyFailed(err: unknown): void {
    this.route.failed(this, err);
  }
}

/** POST .../infer: read the body, decode it by kind, run the call, encode the answer. */
class InferRoute {
  readonly #o: HttpServerOptions;
  readonly #decodeJson: { observe(seconds: number): void };
  readonly #decodeBinary: { observe(seconds: number): void };

  constructor(o: HttpServerOptions) {
    this.#o = o;
    this.#decodeJson = o.metrics.decodeDuration.labels({ protocol: 'json' });
    this.#decodeBinary = o.metrics.decodeDuration.labels({ protocol: 'binary' });
  }

  handle(call: HttpCall, req: HttpRequest, name: string, version: string | undefined): void {
    const receivedAt = performance.now();
    const tracing = this.#o.inference.tracing;
    const trace = tracing === undefined ? undefined : tracing.begin(req.getHeader(TRACEPARENT), req.getHeader(TRACESTATE), name, receivedAt);
    const routeKeyText = req.getHeader(ROUTE_KEY_HEADER);
    const routeKey = routeKeyText === '' ? undefined : routeKeyText;
    // uWS cannot tell an empty header from a missing one: previews need a value (any).
    const preview = req.getHeader(PREVIEW_HEADER) !== '';
    const headerLengthText = req.getHeader('inference-header-content-length');
    const headerLength = headerLengthText === '' ? -1 : Number(headerLengthText);
    const kind = req.getHeader('content-type').startsWith('image/') ? BodyKind.Image
      : headerLengthText === '' ? BodyKind.Json
        : headerLengthText === '0' ? BodyKind.RawBinary : BodyKind.Binary;
    const pending = new PendingInfer(this, call, kind, headerLengthText, name, version, receivedAt, routeKey, preview, trace);
    readBodyTo(call, req, { limit: this.#o.maxBodyBytes, alignAfter: Number.isInteger(headerLength) && headerLength >= 0 ? headerLength : undefined }, pending);
  }

  /**
   * Answer a call whose body has come; never rejects (a failure is answered here). One async
   * function per call, its sync halves apart: an async function's suspended state holds every local
   * it has, and this one is made for every call.
   */
  async run(p: PendingInfer, body: Buffer): Promise<void> {
    const call = p.call;
    try {
      if (!call.aborted) {
        const response = await this.#o.inference.infer(this.#request(p, body));
        if (!call.aborted) this.#reply(call, response, p.trace);
      }
      if (p.trace !== undefined) p.trace.tracing.finish(p.trace);
    } catch (err) {
      this.failed(p, err);
    } finally {
      // Its tensors were copied into a batch (or the call failed): the buffer can serve the next call.
      releaseBody(body);
    }
  }

  failed(p: PendingInfer, err: unknown): void {
    fail(this.#o.logger, p.call, err, p.trace);
    if (p.trace !== undefined) p.trace.tracing.finish(p.trace, err);
  }

  /** The body decoded by its kind into the call the inference service runs. */
  #request(p: PendingInfer, body: Buffer): InferenceRequest {
    const { inference } = this.#o;
    const { kind, name, version, trace } = p;
    // An unknown model or version is refused before its body is parsed.
    inference.checkServed(name, version);
    const decodeStart = performance.now();
    let decoded: DecodedInferenceRequest;
    let target: LoadedVersion | undefined;
    if (kind === BodyKind.Json) {
      decoded = decodeInferenceRequest(body);
    } else if (kind === BodyKind.Binary) {
      const headerLengthText = p.headerLengthText;
      if (!/^\d+$/.test(headerLengthText)) {
        throw new SluiceError('SLUICE_E_PROTOCOL_BAD_BINARY', `Inference-Header-Content-Length must be a non-negative integer, got ${JSON.stringify(headerLengthText.slice(0, 40))}`);
      }
      const headerLength = Number(headerLengthText);
      if (headerLength > body.byteLength) {
        throw new SluiceError('SLUICE_E_PROTOCOL_BAD_BINARY', `Inference-Header-Content-Length ${headerLengthText} does not fit the ${body.byteLength}-byte body`);
      }
      decoded = decodeInferenceRequest(body.subarray(0, headerLength), body.subarray(headerLength));
    } else {
      // A raw or image body is mapped onto the input names of the version routing picks, so that
      // same version must run it: resolve once and pin it (a second weighted pick could differ).
      target = inference.resolve(name, version, p);
      decoded = kind === BodyKind.Image ? { inputs: imageBodyInputs(target, body) } : decodeRawBinaryRequest(target.inputs, target.batched, body);
    }
    const decodeEnd = performance.now();
    (kind === BodyKind.Json || kind === BodyKind.Image ? this.#decodeJson : this.#decodeBinary).observe((decodeEnd - decodeStart) / 1000);
    if (trace !== undefined) {
      trace.decodeStart = decodeStart;
      trace.decodeEnd = decodeEnd;
    }
    // One object literal of a fixed shape (no spread of `decoded`): built once per call.
    return {
      model: name, version: target?.version ?? version, id: decoded.id, inputs: decoded.inputs, outputs: decoded.outputs, binaryOutput: decoded.binaryOutput,
      parameters: decoded.parameters, routedVersion: target !== undefined && version === undefined, signal: p.call, receivedAt: p.receivedAt,
      routeKey: p.routeKey, preview: p.preview, trace,
    };
  }

  /** The answer encoded and written. */
  #reply(call: HttpCall, response: InferenceResponse, trace: CallTrace | undefined): void {
    if (trace !== undefined) trace.encodeStart = performance.now();
    const encoded = encodeInferenceResponse(response);
    if (encoded.binary.length === 0) {
      if (trace !== undefined) trace.encodeEnd = performance.now();
      call.send(200, 'application/json', encoded.header, trace === undefined ? undefined : traceHeaders(trace));
      return;
    }
    const head = Buffer.from(encoded.header, 'utf8');
    const payload = Buffer.concat([head, ...encoded.binary], head.byteLength + encoded.binaryLength);
    const headers: Record<string, string> = trace === undefined ? {} : traceHeaders(trace);
    headers['Inference-Header-Content-Length'] = String(head.byteLength);
    if (trace !== undefined) trace.encodeEnd = performance.now();
    call.send(200, 'application/octet-stream', payload, headers);
  }
}

/**
 * The repository extension: index, load, unload. Restricted like Triton's --http-restricted-api:
 * refused outright when the models come from a control plane (its desired state rules them),
 * refused when --repository-api is off, and needs the `repository` scope when auth is on.
 */
function repositoryRoutes(app: TemplatedApp, o: HttpServerOptions): void {
  const { repository, access } = o;
  const withBody = (call: HttpCall, req: HttpRequest, work: (body: Record<string, unknown>) => Promise<unknown>): void => {
    if (access.managed) return call.error(new SluiceError('SLUICE_E_GATEWAY_REPOSITORY_MANAGED', 'the repository API is refused: this gateway serves what its control plane says'));
    if (access.repositoryApi === 'off') return call.error(new SluiceError('SLUICE_E_GATEWAY_REPOSITORY_OFF', 'the repository API is off on this gateway (--repository-api)'));
    if (!admit(access, call, req, Need.Repository)) return;
    readBody(call, req, { limit: 1024 * 1024 })
      .then(async (buf) => {
        const body = buf.byteLength === 0 ? {} : parseJsonHeader(buf);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SluiceError('SLUICE_E_HTTP_BAD_JSON', 'request body must be a JSON object');
        const result = await work(body as Record<string, unknown>);
        call.json(200, JSON.stringify(result ?? {}));
      })
      .catch((err: unknown) => fail(o.logger, call, err));
  };
  route(app, 'post', ['/v2/repository/index'], (call, req) =>
    withBody(call, req, async (body) => {
      if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', 'ready must be a boolean');
      return repository.index(body.ready === true);
    }));
  route(app, 'post', ['/v2/repository/models/:name/load'], (call, req) => {
    const name = param(req, 0);
    withBody(call, req, async () => {
      await repository.loadModel(name);
      return {};
    });
  });
  route(app, 'post', ['/v2/repository/models/:name/unload'], (call, req) => {
    const name = param(req, 0);
    withBody(call, req, async () => {
      await repository.unloadModel(name);
      return {};
    });
  });
}

/**
 * OIP model metadata, Triton-style platform name. `parameters` carries the version, the batch
 * limit and the config's free-form facts; the protocol's parameter values are strings, numbers or
 * booleans, so any other value is given as its JSON text.
 */
export function modelMetadata(v: LoadedVersion, repository: ModelRepository): Record<string, unknown> {
  const batch = v.batched ? [-1] : [];
  const model = repository.model(v.name);
  const parameters: Record<string, string | number | boolean> = { version: v.version, max_batch_size: v.config.max_batch_size };
  if (v.executionProvider !== undefined) {
    parameters.execution_provider = v.executionProvider;
    if (v.executionProvider === 'cuda' && v.device !== undefined) {
      parameters.device_id = v.device;
      // ORT for Node exposes no per-session memory: the device's, as nvidia-smi last reported it.
      const gpu = repository.gpus.device(v.device);
      if (gpu?.memoryUsedMiB != null) parameters.device_memory_used_mib = gpu.memoryUsedMiB;
      if (gpu?.memoryTotalMiB != null) parameters.device_memory_total_mib = gpu.memoryTotalMiB;
    }
  }
  for (const [k, value] of Object.entries(v.config.parameters ?? {})) {
    parameters[k] = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return {
    name: v.name,
    versions: model ? [...model.versions.keys()].sort((a, b) => Number(a) - Number(b)) : [v.version],
    platform: 'onnxruntime_onnx',
    inputs: v.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [...batch, ...i.dims] })),
    outputs: v.outputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [...batch, ...i.dims] })),
    parameters,
  };
}
