// The HTTP face of the gateway: Open Inference Protocol routes, the repository extension and
// /metrics on one uWS app. Other endpoints (WebSocket, drift) register on the same app through
// `app` before listen; this module only owns the routes below.
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import { SluiceError, isSluiceError } from '../../lib/errors.js';
import { nextRequestId, type Logger } from '../../lib/log.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { ModelRepository } from '../models/repository.js';
import type { ModelVersion } from '../models/model-version.js';
import { HttpCall, param, readBody, releaseBody } from './http-io.js';
import type { InferenceService } from '../inference/inference-service.js';
import { decodeInferenceRequest, encodeInferenceResponse, parseJsonHeader } from './oip-codec.js';
import { imageBodyInputs } from '../preprocess/preprocessor.js';

export const SERVER_NAME = 'sluice';
export const SERVER_VERSION = '0.1.0';
const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'schedule_policy', 'sequence_batching_disabled'];

export interface HttpServerOptions {
  inference: InferenceService;
  repository: ModelRepository;
  metrics: GatewayMetrics;
  maxBodyBytes: number;
  logger: Logger;
  /** False until the startup loads finish, and again while draining. */
  isReady: () => boolean;
}

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** Build the uWS app with every OIP route; the caller adds its own routes and listens. */
export function createHttpApp(o: HttpServerOptions): TemplatedApp {
  const app = uWS.App();
  const { inference, repository, metrics } = o;
  const decodeJson = metrics.decodeDuration.labels({ protocol: 'json' });
  const decodeBinary = metrics.decodeDuration.labels({ protocol: 'binary' });

  const route = (method: 'get' | 'post', pattern: string, handler: Handler): void => {
    app[method](pattern, handler);
    app.any(pattern, (res, req) => {
      const e = new SluiceError('SLUICE_E_HTTP_METHOD_NOT_ALLOWED', `${req.getMethod().toUpperCase()} is not allowed on ${req.getUrl()}; use ${method.toUpperCase()}`);
      new HttpCall(res).error(e);
    });
  };

  /**
   * Answer with an error. A server-side failure (5xx, or not a SluiceError: a bug) is logged with
   * a request id that the answer carries too; client errors are not logged (no per-request logs).
   */
  const fail = (call: HttpCall, err: unknown): void => {
    if (isSluiceError(err) && err.status < 500) return call.error(err);
    const req = nextRequestId();
    o.logger.error({ err, req }, 'request failed');
    call.error(err, req);
  };

  const json = (res: HttpResponse, status: number, body: unknown): void => {
    new HttpCall(res).json(status, JSON.stringify(body));
  };

  route('get', '/v2', (res) => json(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS }));
  route('get', '/v2/health/live', (res) => json(res, 200, { live: true }));
  route('get', '/v2/health/ready', (res) => {
    if (o.isReady()) json(res, 200, { ready: true });
    else new HttpCall(res).error(new SluiceError('SLUICE_E_HTTP_DRAINING', 'the gateway is not ready', { retryAfter: 1 }));
  });

  const metadata = (res: HttpResponse, name: string, version: string | undefined): void => {
    const call = new HttpCall(res);
    try {
      call.json(200, JSON.stringify(modelMetadata(inference.resolve(name, version), repository)));
    } catch (err) {
      call.error(err);
    }
  };
  route('get', '/v2/models/:name', (res, req) => metadata(res, param(req, 0), undefined));
  route('get', '/v2/models/:name/versions/:version', (res, req) => metadata(res, param(req, 0), param(req, 1)));

  const ready = (res: HttpResponse, name: string, version: string | undefined): void => {
    const call = new HttpCall(res);
    try {
      const v = inference.resolve(name, version);
      if (v.state !== 'READY' || inference.draining) {
        throw new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${name} version ${v.version} is not ready`, { retryAfter: 1 });
      }
      call.json(200, JSON.stringify({ name, version: v.version, ready: true }));
    } catch (err) {
      call.error(err);
    }
  };
  route('get', '/v2/models/:name/ready', (res, req) => ready(res, param(req, 0), undefined));
  route('get', '/v2/models/:name/versions/:version/ready', (res, req) => ready(res, param(req, 0), param(req, 1)));

  const infer = (res: HttpResponse, req: HttpRequest, name: string, version: string | undefined): void => {
    const receivedAt = performance.now();
    const call = new HttpCall(res);
    const headerLengthText = req.getHeader('inference-header-content-length');
    // A raw image/* body is a single-image call to the model's image input (gateway/preprocess).
    const imageBody = req.getHeader('content-type').startsWith('image/');
    const headerLength = headerLengthText === '' ? -1 : Number(headerLengthText);
    const answer = async (body: Buffer): Promise<void> => {
      if (call.aborted) return;
      // An unknown model or version is refused before its body is parsed.
      inference.checkServed(name, version);
      const decodeStart = performance.now();
      let header: Uint8Array = body;
      let binary: Uint8Array | undefined;
      if (headerLengthText !== '') {
        if (!/^\d+$/.test(headerLengthText)) {
          throw new SluiceError('SLUICE_E_PROTOCOL_BAD_BINARY', `Inference-Header-Content-Length must be a non-negative integer, got ${JSON.stringify(headerLengthText.slice(0, 40))}`);
        }
        if (headerLength > body.byteLength) {
          throw new SluiceError('SLUICE_E_PROTOCOL_BAD_BINARY', `Inference-Header-Content-Length ${headerLengthText} does not fit the ${body.byteLength}-byte body`);
        }
        header = body.subarray(0, headerLength);
        binary = body.subarray(headerLength);
      }
      // An image body is mapped onto the input names of the version routing picks, so that same
      // version must run it: resolve once and pin it (a second weighted pick could differ).
      const target = imageBody ? inference.resolve(name, version) : undefined;
      const decoded = target ? { inputs: imageBodyInputs(target, body) } : decodeInferenceRequest(header, binary);
      (binary === undefined ? decodeJson : decodeBinary).observe((performance.now() - decodeStart) / 1000);
      const response = await inference.infer({ ...decoded, model: name, version: target?.version ?? version, signal: call.signal, receivedAt });
      if (call.aborted) return;
      const encoded = encodeInferenceResponse(response);
      if (encoded.binary.length === 0) {
        call.json(200, encoded.header);
        return;
      }
      const head = Buffer.from(encoded.header, 'utf8');
      call.send(200, 'application/octet-stream', Buffer.concat([head, ...encoded.binary], head.byteLength + encoded.binaryLength), {
        'Inference-Header-Content-Length': String(head.byteLength),
      });
    };
    readBody(call, req, { limit: o.maxBodyBytes, alignAfter: Number.isInteger(headerLength) && headerLength >= 0 ? headerLength : undefined })
      .then(async (body) => {
        try {
          await answer(body);
        } finally {
          // Its tensors were copied into a batch (or the call failed): the buffer can serve the next call.
          releaseBody(body);
        }
      })
      .catch((err: unknown) => fail(call, err));
  };
  route('post', '/v2/models/:name/infer', (res, req) => infer(res, req, param(req, 0), undefined));
  route('post', '/v2/models/:name/versions/:version/infer', (res, req) => infer(res, req, param(req, 0), param(req, 1)));

  // Repository extension.
  const withBody = (res: HttpResponse, req: HttpRequest, work: (body: Record<string, unknown>) => Promise<unknown>): void => {
    const call = new HttpCall(res);
    readBody(call, req, { limit: 1024 * 1024 })
      .then(async (buf) => {
        const body = buf.byteLength === 0 ? {} : parseJsonHeader(buf);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SluiceError('SLUICE_E_HTTP_BAD_JSON', 'request body must be a JSON object');
        const result = await work(body as Record<string, unknown>);
        call.json(200, JSON.stringify(result ?? {}));
      })
      .catch((err: unknown) => fail(call, err));
  };
  route('post', '/v2/repository/index', (res, req) =>
    withBody(res, req, async (body) => {
      if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', 'ready must be a boolean');
      return repository.index(body.ready === true);
    }));
  route('post', '/v2/repository/models/:name/load', (res, req) => {
    const name = param(req, 0);
    withBody(res, req, async () => {
      await repository.loadModel(name);
      return {};
    });
  });
  route('post', '/v2/repository/models/:name/unload', (res, req) => {
    const name = param(req, 0);
    withBody(res, req, async () => {
      await repository.unloadModel(name);
      return {};
    });
  });

  route('get', '/metrics', (res) => {
    const call = new HttpCall(res);
    metrics.render().then(
      (m) => call.send(200, m.contentType, m.body),
      (err: unknown) => call.error(err),
    );
  });

  app.any('/*', (res, req) => {
    new HttpCall(res).error(new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `no route for ${req.getMethod().toUpperCase()} ${req.getUrl()}`));
  });
  return app;
}

/** OIP model metadata, Triton-style platform name; `parameters` carries the config's free-form facts. */
export function modelMetadata(v: ModelVersion, repository: ModelRepository): Record<string, unknown> {
  const batch = v.batched ? [-1] : [];
  const model = repository.model(v.name);
  return {
    name: v.name,
    versions: model ? [...model.versions.keys()].sort((a, b) => Number(a) - Number(b)) : [v.version],
    platform: 'onnxruntime_onnx',
    inputs: v.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [...batch, ...i.dims] })),
    outputs: v.outputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [...batch, ...i.dims] })),
    parameters: { version: v.version, max_batch_size: v.config.max_batch_size, ...v.config.parameters },
  };
}
