// The fuzzed surfaces and the contract every input is held to: a parser either accepts the input
// or throws a SluiceError whose status is 4xx (never another exception, never a 5xx for what a
// client sent); over the network, every answer is below 500 and a refusal carries a SLUICE_E_*
// code (WebSocket: an error frame with one, or a close with a protocol close code).
import { isUtf8 } from 'node:buffer';
import type fc from 'fast-check';
import WebSocket from 'ws';
import { isSluiceError } from '../../lib/errors.js';
import { decodeInferenceRequest, decodeRawBinaryRequest } from '../../gateway/server/oip-codec.js';
import { WsFramingError, parseBinaryFrame, parseTextFrame } from '../../gateway/server/ws-frame-codec.js';
import { parseFeedbackBody } from '../../gateway/feedback/feedback-items.js';
import { imageElement } from '../../gateway/preprocess/image-element.js';
import { imagesToTensor } from '../../gateway/preprocess/image-tensor.js';
import type { ImagePlan } from '../../gateway/preprocess/image-plan.js';
import { binaryInputs, oipJsonBody, wsFrames, type BinaryInput, type WsFrame } from './arbitraries.js';
import { imageInputs, type ImageSeeds } from './images.js';
import { graphqlRequests, type GraphQLRequest } from './graphql-documents.js';
import type { GraphQLSchema } from 'graphql';

/** An input broke the contract. */
export class FuzzViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzViolation';
  }
}

export interface Surface<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** In-process: throws FuzzViolation when the parser broke the contract on `input`. */
  check(input: T): Promise<void>;
  /** Over the network on 127.0.0.1 (a sample of the inputs). */
  send?(input: T): Promise<void>;
  /** A short, reproducible description of an input for the failure report. */
  describe(input: T): string;
}

/** A parser's throw is fine when it is a SluiceError with a 4xx status. */
export function expectClientError(err: unknown, where: string): void {
  if (isSluiceError(err) && err.status >= 400 && err.status < 500) return;
  const what = isSluiceError(err) ? `${err.code} (${err.status})` : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  throw new FuzzViolation(`${where} threw ${what}`, { cause: err });
}

async function expectHttpAnswer(res: Response, where: string): Promise<void> {
  const text = await res.text();
  if (res.status >= 500) throw new FuzzViolation(`${where} answered ${res.status}: ${text.slice(0, 200)}`);
  if (res.status < 400) return;
  let code: unknown;
  try {
    code = (JSON.parse(text) as { code?: unknown }).code;
  } catch {
    throw new FuzzViolation(`${where} answered ${res.status} without a JSON body: ${text.slice(0, 200)}`);
  }
  if (typeof code !== 'string' || !code.startsWith('SLUICE_E_')) throw new FuzzViolation(`${where} answered ${res.status} with code ${String(code)}`);
}

function hex(bytes: Uint8Array, max = 96): string {
  return `${bytes.byteLength} bytes ${Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, max)).toString('hex')}${bytes.byteLength > max ? '...' : ''}`;
}

function text(value: string | Uint8Array, max = 300): string {
  const s = typeof value === 'string' ? value : hex(value);
  return s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s;
}

/** The OIP JSON request parser (HTTP infer bodies). */
export function oipJsonSurface(gatewayUrl?: string): Surface<string | Uint8Array> {
  return {
    name: 'oip-json',
    arbitrary: oipJsonBody,
    async check(body) {
      try {
        decodeInferenceRequest(body);
      } catch (err) {
        expectClientError(err, 'decodeInferenceRequest');
      }
    },
    send: gatewayUrl === undefined ? undefined : async (body) => {
      const res = await fetch(`${gatewayUrl}/v2/models/weather/infer`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers: { 'content-type': 'application/json' } });
      await expectHttpAnswer(res, 'POST /v2/models/weather/infer (JSON)');
    },
    describe: (body) => text(body),
  };
}

/** Copies `bytes` to `offset` within a fresh buffer, as a socket's body may lie at any alignment. */
function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const buffer = new Uint8Array(bytes.byteLength + offset);
  buffer.set(bytes, offset);
  return buffer.subarray(offset);
}

/** The binary tensor data extension and raw binary requests. */
export function oipBinarySurface(gatewayUrl?: string): Surface<BinaryInput> {
  return {
    name: 'oip-binary',
    arbitrary: binaryInputs,
    async check(input) {
      try {
        if (input.kind === 'extension') decodeInferenceRequest(input.call.header, atOffset(input.call.binary, input.call.offset));
        else decodeRawBinaryRequest(input.call.signature, input.call.batched, input.call.body);
      } catch (err) {
        expectClientError(err, input.kind === 'extension' ? 'decodeInferenceRequest (binary)' : 'decodeRawBinaryRequest');
      }
    },
    send: gatewayUrl === undefined ? undefined : async (input) => {
      const url = `${gatewayUrl}/v2/models/weather/infer`;
      let res: Response;
      if (input.kind === 'extension') {
        const head = Buffer.from(input.call.header);
        const body = Buffer.concat([head, input.call.binary]);
        res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.byteLength) } });
      } else {
        res = await fetch(url, { method: 'POST', body: new Uint8Array(input.call.body), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' } });
      }
      await expectHttpAnswer(res, `POST ${url} (${input.kind} binary)`);
    },
    describe: (input) => (input.kind === 'extension'
      ? `extension header ${text(input.call.header)} binary ${hex(input.call.binary)} at offset ${input.call.offset}`
      : `raw signature ${JSON.stringify(input.call.signature)} batched ${input.call.batched} body ${hex(input.call.body)}`),
  };
}

/** One /v2/ws connection driven call by call: each frame waits for its answer or the close. */
class WsProbe {
  readonly #url: string;
  #socket: WebSocket | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  async #open(): Promise<WebSocket> {
    if (this.#socket?.readyState === WebSocket.OPEN) return this.#socket;
    const socket = new WebSocket(this.#url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.#socket = socket;
    return socket;
  }

  async send(frame: WsFrame): Promise<void> {
    const socket = await this.#open();
    const answer = new Promise<{ kind: 'message'; data: Buffer; binary: boolean } | { kind: 'close'; code: number; reason: string }>((resolve) => {
      const onMessage = (data: Buffer, binary: boolean) => done({ kind: 'message', data, binary });
      const onClose = (code: number, reason: Buffer) => done({ kind: 'close', code, reason: reason.toString() });
      const done = (v: Parameters<typeof resolve>[0]) => {
        socket.off('message', onMessage);
        socket.off('close', onClose);
        resolve(v);
      };
      socket.on('message', onMessage);
      socket.on('close', onClose);
    });
    socket.send(frame.bytes, { binary: frame.binary });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)));
    const got = await Promise.race([answer, timeout]);
    clearTimeout(timer);
    if (got === 'timeout') throw new FuzzViolation('no answer on /v2/ws within 10 s');
    if (got.kind === 'close') {
      // Framing errors close with 1002; a text frame that is not UTF-8 with 1007 (RFC 6455 8.1).
      if (got.code === 1002 || got.code === 1007 || got.code === 1009) return;
      // uWS fails the connection without a close frame (1006 at the client) on such a text frame, as RFC 6455 8.1 allows.
      if (got.code === 1006 && !frame.binary && !isUtf8(frame.bytes)) return;
      throw new FuzzViolation(`/v2/ws closed with ${got.code} ${got.reason}`);
    }
    if (got.binary) return;
    const reply = JSON.parse(got.data.toString('utf8')) as { error?: unknown; code?: unknown; status?: unknown };
    if (reply.error === undefined) return;
    if (typeof reply.status !== 'number' || reply.status >= 500) throw new FuzzViolation(`/v2/ws error frame with status ${String(reply.status)}: ${String(reply.error)}`);
    if (typeof reply.code !== 'string' || !reply.code.startsWith('SLUICE_E_')) throw new FuzzViolation(`/v2/ws error frame with code ${String(reply.code)}`);
  }

  close(): void {
    this.#socket?.terminate();
  }
}

/** /v2/ws frames: framing, then the call's OIP request (or feedback) as the connection decodes it. */
export function wsFrameSurface(gatewayUrl?: string): Surface<WsFrame> & { close(): void } {
  const probe = gatewayUrl === undefined ? undefined : new WsProbe(`${gatewayUrl.replace(/^http/, 'ws')}/v2/ws`);
  return {
    name: 'ws-frame',
    arbitrary: wsFrames,
    async check(frame) {
      const message = new Uint8Array(frame.bytes).buffer;
      try {
        const call = frame.binary ? parseBinaryFrame(message) : parseTextFrame(message);
        if (call.type === 'feedback') parseFeedbackBody(call.request);
        else decodeInferenceRequest(call.request, call.binary);
      } catch (err) {
        if (err instanceof WsFramingError) return;
        expectClientError(err, 'ws frame');
      }
    },
    send: probe === undefined ? undefined : (frame) => probe.send(frame),
    describe: (frame) => `${frame.binary ? 'binary' : 'text'} frame ${hex(frame.bytes, 160)}`,
    close: () => probe?.close(),
  };
}

function imageType(bytes: Uint8Array): string {
  if (bytes[0] === 0xff) return 'image/jpeg';
  if (bytes[0] === 0x52) return 'image/webp';
  return 'image/png';
}

/** Encoded images through the preprocessor (signature check, sharp, the native tensor writer). */
export function imageSurface(plan: ImagePlan, seeds: ImageSeeds, gatewayUrl?: string): Surface<Uint8Array> {
  return {
    name: 'image',
    arbitrary: imageInputs(seeds),
    async check(bytes) {
      try {
        await imagesToTensor([imageElement(bytes)], plan);
      } catch (err) {
        expectClientError(err, 'imagesToTensor');
      }
    },
    send: gatewayUrl === undefined ? undefined : async (bytes) => {
      const res = await fetch(`${gatewayUrl}/v2/models/text-direction/infer`, { method: 'POST', body: new Uint8Array(bytes), headers: { 'content-type': imageType(bytes) } });
      await expectHttpAnswer(res, 'POST /v2/models/text-direction/infer (image)');
    },
    describe: (bytes) => hex(bytes, 200),
  };
}

export interface GraphQLEndpoint {
  fetch(request: Request): Promise<Response>;
  url: string;
  token: string;
}

async function expectGraphQLAnswer(res: Response, where: string): Promise<void> {
  const body = await res.text();
  if (res.status >= 500) throw new FuzzViolation(`${where} answered ${res.status}: ${body.slice(0, 300)}`);
  let parsed: { errors?: { message?: string; extensions?: { code?: unknown } }[]; code?: unknown };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    if (res.status >= 400) throw new FuzzViolation(`${where} answered ${res.status} without a JSON body: ${body.slice(0, 200)}`);
    return;
  }
  const codes = parsed.errors?.map((e) => e.extensions?.code) ?? (parsed.code === undefined ? [] : [parsed.code]);
  if (res.status >= 400 && codes.length === 0) throw new FuzzViolation(`${where} answered ${res.status} with no error code: ${body.slice(0, 200)}`);
  for (const code of codes) {
    if (typeof code !== 'string' || !code.startsWith('SLUICE_E_')) throw new FuzzViolation(`${where}: an error without a SLUICE_E_ code (${String(code)}): ${body.slice(0, 300)}`);
    if (code === 'SLUICE_E_INTERNAL') throw new FuzzViolation(`${where}: internal error: ${body.slice(0, 300)}`);
  }
}

/** GraphQL documents against the control plane's yoga handler (in-process) and its HTTP server. */
export function graphqlSurface(schema: GraphQLSchema, endpoint: GraphQLEndpoint): Surface<GraphQLRequest> {
  const init = (r: GraphQLRequest): RequestInit => ({
    method: 'POST',
    body: r.body,
    headers: {
      'content-type': r.contentType, accept: 'application/graphql-response+json', authorization: `Bearer ${endpoint.token}`,
    },
  });
  return {
    name: 'graphql',
    arbitrary: graphqlRequests(schema),
    async check(r) {
      let res: Response;
      try {
        res = await endpoint.fetch(new Request('http://127.0.0.1/graphql', init(r)));
      } catch (err) {
        throw new FuzzViolation(`yoga threw ${(err as Error).message}`, { cause: err });
      }
      await expectGraphQLAnswer(res, 'yoga');
    },
    async send(r) {
      await expectGraphQLAnswer(await fetch(`${endpoint.url}/graphql`, init(r)), 'POST /graphql');
    },
    describe: (r) => `${r.contentType}: ${text(r.body, 600)}`,
  };
}
