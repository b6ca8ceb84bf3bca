// A small client for Sluice's WebSocket endpoint /v2/ws: one connection, many inference calls in
// flight, one promise per call. Used by the tests and the benchmarks.
//
//   import { SluiceWsClient } from '../gateway/client/index.js';
//   const client = await SluiceWsClient.connect('http://127.0.0.1:8000', { token });
//   // text frame (JSON tensors):
//   const r = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 12, 5, 3, 180] }] });
//   r.outputs[0].data                                  // numbers from JSON
//   // binary frame (raw tensor bytes; outputs come back as typed arrays):
//   const b = await client.infer('text-direction', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: f32 }] }, { binary: true });
//   // encoded images for a model with `preprocess` (BYTES elements are Uint8Arrays):
//   await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [png] }] }, { binary: true });
//   // ground truth for an earlier answer (its id is the call's id):
//   await client.feedback('weather', { id: r.id, label: 'rain' });
//   await client.close();
//
// A failed call rejects with WsCallError (code = the gateway's SLUICE_E_* code, status = its HTTP
// status); every call still pending when the connection closes rejects with WsClosedError, which
// carries the close code and reason.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBinaryFrame, splitBinaryFrame } from '../server/ws-frame-codec.js';
import { jsonData, tensorBytes, typedFromBytes, type ClientDatatype, type ClientTensor } from './client-tensors.js';

export interface InferRequest {
  /**
   * Assigned by the client when omitted (unique across connections, as the gateway keys feedback
   * by it); must be unique among this connection's pending calls.
   */
  id?: string;
  inputs: ClientTensor[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
  parameters?: Record<string, unknown>;
  /** W3C trace context for the call (docs/tracing.md): top-level fields of the frame. */
  traceparent?: string;
  tracestate?: string;
}

export interface InferResult {
  id: string;
  model_name: string;
  model_version: string;
  outputs: ClientTensor[];
  parameters?: Record<string, unknown>;
  /** The gateway's span in the call's trace, when the gateway traces. */
  traceparent?: string;
  tracestate?: string;
}

/** Ground truth for one earlier answer: a class (index or name) or a value, or one per row. */
export interface FeedbackEntry {
  id: string;
  label?: number | string;
  value?: number;
  labels?: (number | string)[];
  values?: number[];
}

export interface FeedbackResult {
  id: string;
  type: 'feedback';
  accepted: { id: string; model_name: string; model_version: string; rows: number; correct?: number; abs_error?: number }[];
}

export interface InferOptions {
  version?: string;
  /** Send a binary frame (raw tensor bytes) instead of JSON; the answer comes back binary too. */
  binary?: boolean;
}

export interface ConnectOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /** Largest message accepted from the gateway (ws's maxPayload); default 256 MiB. */
  maxPayload?: number;
  /** wss: trust this CA (PEM) instead of the system store. */
  ca?: string | Buffer;
}

export class WsCallError extends Error {
  constructor(readonly id: string | undefined, message: string, readonly code: string, readonly status: number) {
    super(message);
    this.name = 'WsCallError';
  }
}

export class WsClosedError extends Error {
  constructor(readonly closeCode: number, readonly reason: string) {
    super(`connection closed (${closeCode}${reason ? `: ${reason}` : ''})`);
    this.name = 'WsClosedError';
  }
}

interface Pending {
  resolve: (r: never) => void;
  reject: (e: Error) => void;
}

export class SluiceWsClient {
  readonly socket: WebSocket;
  readonly #pending = new Map<string, Pending>();
  #nextId = 0;
  /** Ids this client assigns: a random prefix per connection, then a counter. */
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #closed: WsClosedError | undefined;
  /** Messages the gateway sent that matched no pending call (e.g. errors for frames with no id). */
  readonly unmatched: unknown[] = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    socket.on('close', (code: number, reason: Buffer) => this.#fail(new WsClosedError(code, reason.toString())));
    socket.on('error', () => {});
  }

  /** Opens `<url>/v2/ws` (`url` may be http:// or ws://). */
  static connect(url: string, options: ConnectOptions = {}): Promise<SluiceWsClient> {
    const wsUrl = new URL('/v2/ws', url.replace(/^http/, 'ws'));
    const headers = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const socket = new WebSocket(wsUrl, { headers, maxPayload: options.maxPayload ?? 256 * 1024 * 1024, perMessageDeflate: false, ...(options.ca ? { ca: options.ca } : {}) });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new SluiceWsClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Calls still waiting for an answer. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** One inference call; resolves with its answer whenever it arrives (answers are not ordered). */
  infer(model: string, request: InferRequest, options: InferOptions = {}): Promise<InferResult> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = request.id ?? `${this.#idPrefix}-${++this.#nextId}`;
    const frame = options.binary ? binaryFrame(id, model, options.version, request) : textFrame(id, model, options.version, request);
    return this.#call<InferResult>(id, frame, Boolean(options.binary));
  }

  /**
   * Ground truth for earlier answers of `model` (a `feedback` frame): one entry, or a list applied
   * whole or not at all. Rejects with WsCallError (SLUICE_E_FEEDBACK_*) for bad feedback.
   */
  feedback(model: string, feedback: FeedbackEntry | FeedbackEntry[], options: { version?: string } = {}): Promise<FeedbackResult> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = `${this.#idPrefix}-${++this.#nextId}`;
    const h: Record<string, unknown> = { type: 'feedback', id, model_name: model, feedback: Array.isArray(feedback) ? feedback : [feedback] };
    if (options.version !== undefined) h.model_version = options.version;
    return this.#call<FeedbackResult>(id, JSON.stringify(h), false);
  }

  #call<T>(id: string, frame: string | Uint8Array, binary: boolean): Promise<T> {
    if (this.#pending.has(id)) return Promise.reject(new Error(`a call with id ${id} is already pending`));
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: never) => void, reject });
      this.socket.send(frame, { binary });
    });
  }

  /** Sends a frame as is (tests use it for malformed frames). */
  sendRaw(data: string | Uint8Array, binary = typeof data !== 'string'): void {
    this.socket.send(data, { binary });
  }

  /** Closes the connection; resolves once it is closed. */
  close(code = 1000): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close(code);
    });
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    let msg: Record<string, unknown>;
    let binary: Uint8Array | undefined;
    try {
      if (isBinary) {
        const parts = splitBinaryFrame(data);
        msg = JSON.parse(parts.header) as Record<string, unknown>;
        binary = parts.binary;
      } else {
        msg = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      }
    } catch {
      this.unmatched.push(data);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const call = id === undefined ? undefined : this.#pending.get(id);
    if (!call) {
      this.unmatched.push(msg);
      return;
    }
    this.#pending.delete(id!);
    if (typeof msg.error === 'string') {
      call.reject(new WsCallError(id, msg.error, String(msg.code), Number(msg.status)));
      return;
    }
    const result = msg as unknown as InferResult;
    try {
      if (binary) decodeBinaryOutputs(result.outputs, binary);
    } catch (err) {
      call.reject(err as Error);
      return;
    }
    call.resolve(result as never);
  }

  #fail(err: WsClosedError): void {
    this.#closed = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

function header(id: string, model: string, version: string | undefined, request: InferRequest): Record<string, unknown> {
  const h: Record<string, unknown> = { id, model_name: model };
  if (version !== undefined) h.model_version = version;
  if (request.parameters) h.parameters = request.parameters;
  if (request.outputs) h.outputs = request.outputs;
  if (request.traceparent !== undefined) h.traceparent = request.traceparent;
  if (request.tracestate !== undefined) h.tracestate = request.tracestate;
  return h;
}

function textFrame(id: string, model: string, version: string | undefined, request: InferRequest): string {
  const h = header(id, model, version, request);
  h.inputs = request.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: jsonData(t), ...(t.parameters ? { parameters: t.parameters } : {}) }));
  return JSON.stringify(h);
}

function binaryFrame(id: string, model: string, version: string | undefined, request: InferRequest): Uint8Array {
  const h = header(id, model, version, request);
  const parts = request.inputs.map(tensorBytes);
  h.inputs = request.inputs.map((t, i) => ({
    name: t.name, datatype: t.datatype, shape: t.shape, parameters: { ...t.parameters, binary_data_size: parts[i]!.byteLength },
  }));
  return encodeBinaryFrame(JSON.stringify(h), parts);
}

/** Replaces each binary output's data with a typed array over its bytes in the frame. */
function decodeBinaryOutputs(outputs: ClientTensor[], binary: Uint8Array): void {
  let at = 0;
  for (const out of outputs ?? []) {
    const size = out.parameters?.binary_data_size;
    if (typeof size !== 'number') continue;
    out.data = typedFromBytes(out.datatype as ClientDatatype, binary.subarray(at, at + size));
    at += size;
  }
}
