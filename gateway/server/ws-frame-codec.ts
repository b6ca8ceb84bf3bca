// The /v2/ws message layout, shared by the gateway and the client (no uWS here).
//
// Client -> gateway, one inference call per message:
//   text frame   : an OIP JSON inference request plus `id` and `model_name` (and `model_version`).
//   binary frame : u32 little-endian header length | JSON header (the same object, inputs carrying
//                  parameters.binary_data_size) | raw tensor bytes in input order — the HTTP binary
//                  data extension, with the header length moved from Inference-Header-Content-Length
//                  into the frame.
//   feedback     : a text frame {"type": "feedback", "id", "model_name" (and "model_version"), ...}
//                  giving ground truth for earlier answers: either `label`/`value`/`labels`/`values`
//                  for the answer whose id is the frame's id, or `feedback`: [{id, label | value ...}]
//                  (gateway/feedback/feedback-items.ts). Its answer is {id, type: "feedback", accepted}.
// Gateway -> client: the OIP response plus `id`, in the same kind of frame as the call (a binary
// call gets its outputs as binary data); an error is always a text frame {id, error, code, status}.
// Responses come back as each call finishes, not in order.
import { SluiceError } from '../../lib/errors.js';

/** Close codes (RFC 6455 section 7.4.1) and the reasons the gateway gives with them. */
export const WS_CLOSE = {
  /** Unparseable framing: the connection cannot find the next call's boundaries in it. */
  PROTOCOL_ERROR: 1002,
  /** The client reads its answers too slowly; unsent responses reached the connection's limit. */
  POLICY_VIOLATION: 1008,
  /** A message exceeded the connection's size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** The gateway is shutting down. */
  GOING_AWAY: 1001,
} as const;

/** A binary frame whose length prefix does not describe it; the connection closes with 1002. */
export class WsFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WsFramingError';
  }
}

/** What a frame asks for: an inference call, or feedback on earlier answers. */
export type WsCallType = 'infer' | 'feedback';

export interface WsCall {
  type: WsCallType;
  /** The client's request id, echoed in the answer; undefined when the frame had none. */
  id: string | undefined;
  model: string;
  version: string | undefined;
  /** The OIP request object (inputs, outputs, parameters); `id`/`model_name`/`model_version` included. */
  request: Record<string, unknown>;
  /** Binary frames: the raw tensor bytes after the header, in a buffer of their own (starts 8-aligned). */
  binary: Uint8Array | undefined;
  /** performance.now() when the frame arrived (set by the endpoint; latency is measured from it). */
  receivedAt?: number;
}

const HEADER_PREFIX = 4;

function badFrame(id: string | undefined, message: string): SluiceError {
  return new SluiceError('SLUICE_E_WS_BAD_FRAME', message, { details: id === undefined ? {} : { id } });
}

/** The request id of a parsed header when it is usable (string or number), else undefined. */
export function requestId(header: unknown): string | undefined {
  if (typeof header !== 'object' || header === null) return undefined;
  const id = (header as { id?: unknown }).id;
  if (typeof id === 'string' && id.length > 0 && id.length <= 256) return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  return undefined;
}

function toCall(json: string, binary: Uint8Array | undefined): WsCall {
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch (err) {
    throw new SluiceError('SLUICE_E_WS_BAD_FRAME', `the message is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const id = requestId(header);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw badFrame(id, 'the message must be a JSON object');
  const h = header as Record<string, unknown>;
  if (h.id === undefined) throw badFrame(id, 'the message has no id');
  if (id === undefined) throw badFrame(id, 'id must be a non-empty string (at most 256 characters) or a number');
  if (typeof h.model_name !== 'string' || h.model_name === '') throw badFrame(id, 'model_name must be a non-empty string');
  let version: string | undefined;
  if (h.model_version !== undefined && h.model_version !== '') {
    if (typeof h.model_version !== 'string' && typeof h.model_version !== 'number') throw badFrame(id, 'model_version must be a string');
    version = String(h.model_version);
  }
  if (h.type !== undefined && h.type !== 'infer' && h.type !== 'feedback') throw badFrame(id, 'type must be infer or feedback');
  return { type: h.type === 'feedback' ? 'feedback' : 'infer', id, model: h.model_name, version, request: h, binary };
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A text frame's call. Throws SLUICE_E_WS_BAD_FRAME (with details.id when known). */
export function parseTextFrame(message: ArrayBuffer): WsCall {
  return toCall(decoder.decode(message), undefined);
}

/**
 * A binary frame's call. The tensor bytes are copied out of `message` (uWS reuses it once the
 * handler returns) into a buffer of their own, so typed-array views on them start aligned.
 * Throws WsFramingError when the length prefix is unusable, SLUICE_E_WS_BAD_FRAME otherwise.
 */
export function parseBinaryFrame(message: ArrayBuffer): WsCall {
  if (message.byteLength < HEADER_PREFIX) {
    throw new WsFramingError(`binary frame of ${message.byteLength} bytes has no 4-byte header length`);
  }
  const headerLength = new DataView(message).getUint32(0, true);
  if (headerLength === 0 || headerLength > message.byteLength - HEADER_PREFIX) {
    throw new WsFramingError(`binary frame header length ${headerLength} does not fit the ${message.byteLength - HEADER_PREFIX} bytes after it`);
  }
  const json = decoder.decode(new Uint8Array(message, HEADER_PREFIX, headerLength));
  const start = HEADER_PREFIX + headerLength;
  const binary = new Uint8Array(message.byteLength - start);
  binary.set(new Uint8Array(message, start));
  return toCall(json, binary);
}

/** Joins a JSON header and tensor byte parts into one binary frame. */
export function encodeBinaryFrame(header: string, parts: readonly Uint8Array[]): Uint8Array {
  const head = Buffer.from(header, 'utf8');
  let total = HEADER_PREFIX + head.length;
  for (const p of parts) total += p.byteLength;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, HEADER_PREFIX);
  let at = HEADER_PREFIX + head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Splits a binary frame into its JSON header text and the bytes after it (a view, not a copy). */
export function splitBinaryFrame(frame: Uint8Array): { header: string; binary: Uint8Array } {
  if (frame.byteLength < HEADER_PREFIX) throw new WsFramingError('binary frame too short for its header length');
  const len = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (len > frame.byteLength - HEADER_PREFIX) throw new WsFramingError(`binary frame header length ${len} exceeds the frame`);
  return {
    header: decoder.decode(frame.subarray(HEADER_PREFIX, HEADER_PREFIX + len)),
    binary: frame.subarray(HEADER_PREFIX + len),
  };
}

/** The text frame for a failed call. `id` is omitted when the request had none. */
export function encodeErrorFrame(id: string | undefined, err: SluiceError): string {
  return JSON.stringify({ id: id ?? null, error: err.message, code: err.code, status: err.status });
}
