// The transport-independent entry point: a decoded inference call in (from HTTP JSON, the binary
// extension or a WebSocket frame), its outputs out, every failure a SluiceError. Routing,
// validation against the model's signature, batching and metrics all happen here, once.
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { outcomeOf } from '../metrics/metrics.js';
import type { ModelRepository } from '../models/repository.js';
import type { ModelVersion, PreparedRequest } from '../models/model-version.js';
import { elementCount, type Tensor } from '../models/tensors.js';
import { shapeKey } from '../batching/assemble.js';
import type { CancelSignal } from '../batching/batcher.js';

export interface RequestedOutput {
  name: string;
  /** Answer this output as raw bytes (binary extension) instead of JSON data. */
  binary?: boolean | undefined;
}

export interface InferenceRequest {
  model: string;
  /** `versions/{v}` in the URL: bypasses the routing table. */
  version?: string | undefined;
  id?: string | undefined;
  inputs: Tensor[];
  /** Outputs to return; all when undefined. */
  outputs?: RequestedOutput[] | undefined;
  /** Request-level `binary_data_output`: the default for outputs that do not say. */
  binaryOutput?: boolean | undefined;
  /** Request `parameters`; Sluice reads `priority` and `timeout_us`. */
  parameters?: Record<string, unknown> | undefined;
  /** Aborted when the client goes away: a queued call is dropped before it runs. An AbortSignal fits. */
  signal?: CancelSignal | undefined;
  /** performance.now() when the transport received the call (latency metric); defaults to now. */
  receivedAt?: number | undefined;
}

export interface OutputTensor extends Tensor {
  binary: boolean;
}

export interface InferenceResponse {
  model: string;
  version: string;
  id?: string | undefined;
  outputs: OutputTensor[];
}

/** Turns image BYTES inputs into model tensors (gateway/preprocess); runs only for models with `preprocess` in their config. */
export type Preprocessor = (version: ModelVersion, request: InferenceRequest) => InferenceRequest | Promise<InferenceRequest>;

export class InferenceService {
  readonly #repository: ModelRepository;
  readonly #metrics: GatewayMetrics;
  #preprocessor: Preprocessor | undefined;
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(repository: ModelRepository, metrics: GatewayMetrics) {
    this.#repository = repository;
    this.#metrics = metrics;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Calls accepted and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  setPreprocessor(preprocessor: Preprocessor): void {
    this.#preprocessor = preprocessor;
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

  #served(model: string, version: string | undefined): { model: NonNullable<ReturnType<ModelRepository['model']>>; version: ModelVersion | undefined } {
    const m = this.#repository.model(model);
    if (m === undefined) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${model} is not loaded`);
    if (version === undefined) return { model: m, version: undefined };
    const v = m.versions.get(version);
    if (v === undefined) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model} has no version ${version}`);
    return { model: m, version: v };
  }

  /** The loaded version a call goes to: `version` if given, else the model's routing table's pick. */
  resolve(model: string, version?: string): ModelVersion {
    const served = this.#served(model, version);
    if (served.version !== undefined) return served.version;
    const m = served.model;
    const picked = m.routing.pick(m.readyVersions);
    const v = picked === undefined ? undefined : m.versions.get(picked);
    if (v === undefined) throw new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${model} has no ready version`, { retryAfter: 1 });
    return v;
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const started = request.receivedAt ?? performance.now();
    if (this.#draining) {
      this.#metrics.countUnrouted('rejected');
      throw new SluiceError('SLUICE_E_HTTP_DRAINING', 'the gateway is shutting down', { retryAfter: 1 });
    }
    let version: ModelVersion;
    try {
      version = this.resolve(request.model, request.version);
    } catch (err) {
      const e = toSluiceError(err);
      this.#metrics.countUnrouted(outcomeOf(e.code, e.status));
      throw e;
    }
    const m = version.metrics;
    this.#inFlight++;
    m.inFlight.inc();
    try {
      if (this.#preprocessor !== undefined && version.config.preprocess !== undefined) {
        request = await this.#preprocessor(version, request);
        // A reload may have swapped versions while we waited: follow the routing again.
        if (version.state !== 'READY' && request.version === undefined) version = this.resolve(request.model);
      }
      if (version.state !== 'READY') throw new SluiceError('SLUICE_E_MODEL_NOT_READY', `model ${version.name} version ${version.version} is not ready`, { retryAfter: 1 });
      const prepared = prepare(version, request);
      const params = request.parameters ?? {};
      const tensors = await version.enqueue(prepared, {
        rows: prepared.rows,
        // Fixed dims are already checked equal by prepare(): only variable ones can split batches.
        shapeKey: version.batched && version.variableShape ? shapeKey(prepared.inputs, true) : '',
        priority: intParam(params, 'priority'),
        timeoutUs: intParam(params, 'timeout_us'),
        signal: request.signal,
      });
      const response = { model: version.name, version: version.version, id: request.id, outputs: selectOutputs(version, request, tensors) };
      m.count('success');
      m.requestDuration.observe((performance.now() - started) / 1000);
      return response;
    } catch (err) {
      const e = toSluiceError(err);
      m.count(outcomeOf(e.code, e.status));
      throw e;
    } finally {
      m.inFlight.dec();
      if (--this.#inFlight === 0 && this.#idle) this.#idle();
    }
  }

  /** Refuse new calls (503) and wait for the accepted ones, at most `timeoutMs`. Resolves false on timeout. */
  drain(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

function intParam(params: Record<string, unknown>, name: string): number | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new SluiceError('SLUICE_E_PROTOCOL_BAD_PARAMETER', `parameter ${name} must be a non-negative integer`);
  }
  return v;
}

/** Check a call's inputs against the model's signature and put them in the model's input order. */
export function prepare(version: ModelVersion, request: InferenceRequest): PreparedRequest {
  const signature = version.inputs;
  const ordered: (Tensor | undefined)[] = new Array(signature.length);
  const batched = version.batched;
  let rows = batched ? -1 : 1;
  for (const input of request.inputs) {
    const i = signature.findIndex((s) => s.name === input.name);
    if (i < 0) {
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_INPUT', `unexpected input ${input.name} for model ${version.name} (inputs: ${signature.map((s) => s.name).join(', ')})`);
    }
    if (ordered[i] !== undefined) throw new SluiceError('SLUICE_E_PROTOCOL_BAD_INPUT', `input ${input.name} is given twice`);
    const s = signature[i]!;
    if (input.datatype !== s.datatype) {
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_DATATYPE', `input ${input.name} has datatype ${input.datatype}, the model expects ${s.datatype}`);
    }
    const shape = input.shape;
    if (!shapeFits(shape, s.dims, batched)) {
      const expected = batched ? [-1, ...s.dims] : s.dims;
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${input.name} has shape [${shape.join(',')}], the model expects [${expected.join(',')}] (-1: any size)`);
    }
    if (batched) {
      const r = shape[0]!;
      if (r < 1 || r > version.config.max_batch_size) {
        throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${input.name} has batch size ${r}; it must be from 1 to max_batch_size ${version.config.max_batch_size}`);
      }
      if (rows !== -1 && rows !== r) throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `inputs disagree on the batch size (${rows} and ${r})`);
      rows = r;
    }
    if (input.data.length !== elementCount(shape)) {
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_DATA', `input ${input.name} has ${input.data.length} values, its shape [${shape.join(',')}] needs ${elementCount(shape)}`);
    }
    ordered[i] = input;
  }
  for (let i = 0; i < signature.length; i++) {
    if (ordered[i] === undefined) throw new SluiceError('SLUICE_E_PROTOCOL_BAD_INPUT', `missing input ${signature[i]!.name} for model ${version.name}`);
  }
  if (request.outputs !== undefined) {
    for (const o of request.outputs) {
      if (!version.outputs.some((s) => s.name === o.name)) {
        throw new SluiceError('SLUICE_E_PROTOCOL_BAD_OUTPUT', `unknown output ${o.name} for model ${version.name} (outputs: ${version.outputs.map((s) => s.name).join(', ')})`);
      }
    }
  }
  return { inputs: ordered as Tensor[], rows };
}

/** `shape` matches the signature's `dims` (after a leading batch dimension when batched); -1 matches any size. */
function shapeFits(shape: readonly number[], dims: readonly number[], batched: boolean): boolean {
  const lead = batched ? 1 : 0;
  if (shape.length !== dims.length + lead) return false;
  for (let k = 0; k < shape.length; k++) {
    const d = shape[k]!;
    if (!(Number.isInteger(d) && d >= 0)) return false;
    const e = k < lead ? -1 : dims[k - lead]!;
    if (e !== -1 && e !== d) return false;
  }
  return true;
}

function selectOutputs(version: ModelVersion, request: InferenceRequest, tensors: Tensor[]): OutputTensor[] {
  const binaryDefault = request.binaryOutput === true;
  if (request.outputs === undefined) {
    const out: OutputTensor[] = [];
    for (const s of version.outputs) {
      const t = tensors.find((x) => x.name === s.name);
      if (t) out.push({ ...t, binary: binaryDefault });
    }
    return out;
  }
  return request.outputs.map((o) => {
    const t = tensors.find((x) => x.name === o.name)!;
    return { ...t, binary: o.binary ?? binaryDefault };
  });
}
