// The two places uWS discipline lives: reading a body and writing a response. Every handler that
// does not answer synchronously registers onAborted first (HttpCall does), every write after an
// await goes through res.cork, and bodies are read into a buffer pre-sized from content-length
// (up to EAGER_BYTES; larger ones grow as their bytes arrive) with 413 past the limit. When the app
// has a front (admission.ts), every route but health and /metrics goes through it first, each body
// reserves its declared length in the process's body budget and must arrive before its deadline.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { bufferPool } from '../util/buffer-pool.js';
import { admissionOf, BodyRead, type Admission, type BodyDeadlines } from './admission.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
  405: '405 Method Not Allowed', 408: '408 Request Timeout', 409: '409 Conflict', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type',
  422: '422 Unprocessable Entity', 429: '429 Too Many Requests', 499: '499 Client Closed Request',
  500: '500 Internal Server Error', 503: '503 Service Unavailable', 504: '504 Gateway Timeout',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/**
 * One HTTP exchange that answers later. Registers onAborted at once (uWS rule) and is itself the
 * call's cancel signal: cheaper per request than an AbortController, and the batcher drops a
 * queued call whose client went away.
 */
export class HttpCall implements CancelSignal {
  readonly res: HttpResponse;
  /** A HEAD request: answers carry the status and headers a GET gets, and no body (RFC 9110 9.3.2). */
  readonly head: boolean;
  /** The client went away: nothing may be written. */
  aborted = false;
  /** An allowed browser origin (access.ts): the answer carries the CORS headers for it. */
  corsOrigin: string | undefined = undefined;
  #finished = false;
  /** The abort listener (a call has one: its queued batch entry), and any more after it. */
  #listener: (() => void) | undefined;
  #more: (() => void)[] | undefined;
  /** The front that admitted this call (counted open until answered or aborted). */
  readonly admission: Admission | undefined;
  /** Body bytes this call holds in the admission's budget. */
  #reserved = 0;

  constructor(res: HttpResponse, head = false, admission?: Admission) {
    this.res = res;
    this.head = head;
    this.admission = admission;
    if (admission !== undefined) admission.open++;
    res.onAborted(() => {
      this.aborted = true;
      this.#done();
      const first = this.#listener;
      const more = this.#more;
      this.#listener = undefined;
      this.#more = undefined;
      if (first) first();
      if (more) for (const l of more) l();
    });
  }

  get signal(): CancelSignal {
    return this;
  }

  /** Reserve `bytes` more of body budget for this call (always true without a front). */
  reserveBody(bytes: number): boolean {
    const a = this.admission;
    if (a === undefined || this.#finished || this.aborted) return true;
    if (!a.bodies.tryReserve(bytes, this.#reserved)) return false;
    this.#reserved += bytes;
    return true;
  }

  /** Answered or gone: no longer open, its body budget back. */
  #done(): void {
    const a = this.admission;
    if (a === undefined || this.#reserved < 0) return;
    a.open--;
    a.bodies.release(this.#reserved);
    // Marks the call settled with the front, so an abort after the answer does not count twice.
    this.#reserved = -1;
  }

  // One listener in a field, not an array per call (a push onto [] allocates room for 16).
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.#listener === undefined) this.#listener = listener;
    else (this.#more ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.#listener === listener) {
      this.#listener = undefined;
      return;
    }
    const i = this.#more?.indexOf(listener) ?? -1;
    if (i >= 0) this.#more!.splice(i, 1);
  }

  /** Write a whole response (corked; a no-op when the client is gone or it was answered already). */
  send(status: number, contentType: string, body: string | Uint8Array, headers?: Record<string, string>, closeConnection = false): void {
    if (this.aborted || this.#finished) return;
    this.#finished = true;
    this.#done();
    // cork() runs its callback at once: the answer waits in `corked` for writeCorked, so no
    // closure is made per response (one fewer allocation on the hot path).
    corked.call = this;
    corked.status = status;
    corked.contentType = contentType;
    corked.body = body;
    corked.headers = headers;
    corked.close = closeConnection || this.admission?.closeConnections === true;
    this.res.cork(writeCorked);
  }

  /** The writes of send(), inside cork. */
  write(status: number, contentType: string, body: string | Uint8Array, headers: Record<string, string> | undefined, closeConnection: boolean): void {
    const res = this.res;
    res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType);
    if (headers) for (const k in headers) res.writeHeader(k, headers[k]!);
    if (this.corsOrigin !== undefined) {
      res.writeHeader('Access-Control-Allow-Origin', this.corsOrigin).writeHeader('Vary', 'Origin')
        .writeHeader('Access-Control-Expose-Headers', 'Inference-Header-Content-Length, Retry-After, X-Request-Id, traceparent, tracestate');
    }
    if (this.head) {
      // uWS 20.30's endWithoutBody(length) writes nothing at all, and with arguments it adds a
      // second Content-Length: send the header ourselves and call it bare. A HEAD has no body to
      // leave unread, so it never needs to close the connection.
      res.writeHeader('Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
      res.endWithoutBody();
    } else {
      res.end(body, closeConnection);
    }
  }

  json(status: number, body: string): void {
    this.send(status, 'application/json', body);
  }

  /**
   * `{"error": "...", "code": "SLUICE_E_..."}` with the error's status, Retry-After on 503s that carry one, and
   * X-Request-Id when the failure was logged under that id (so a user can quote it).
   */
  error(err: unknown, requestId?: string, extraHeaders?: Record<string, string>): void {
    const e = toSluiceError(err);
    let headers: Record<string, string> | undefined = extraHeaders && { ...extraHeaders };
    if (e.retryAfter !== undefined) (headers ??= {})['Retry-After'] = String(e.retryAfter);
    if (requestId !== undefined) (headers ??= {})['X-Request-Id'] = requestId;
    // After a 413 the rest of the oversized body is still on the wire: close rather than read it
    // (so too after a body refused by the budget or its deadline, and past the connection cap).
    this.send(e.status, 'application/json', JSON.stringify(e.toJSON()), headers, e.status === 413 || CLOSING_CODES.has(e.code));
  }
}

/** The answer send() is writing: cork() calls writeCorked synchronously, so one slot serves every call. */
const corked: {
  call: HttpCall | undefined; status: number; contentType: string; body: string | Uint8Array; headers: Record<string, string> | undefined; close: boolean;
} = { call: undefined, status: 0, contentType: '', body: '', headers: undefined, close: false };

function writeCorked(): void {
  const c = corked;
  const call = c.call!;
  const body = c.body;
  const headers = c.headers;
  // Nothing of the answer stays referenced once it is written.
  c.call = undefined;
  c.body = '';
  c.headers = undefined;
  call.write(c.status, c.contentType, body, headers, c.close);
}

const CLOSING_CODES = new Set<string>(['SLUICE_E_BUDGET_BODY_BUSY', 'SLUICE_E_BUDGET_BODY_TIMEOUT', 'SLUICE_E_BUDGET_CONNECTIONS']);

export type RouteHandler = (call: HttpCall, req: HttpRequest) => void;

/** Answers a CORS preflight (OPTIONS) when the request is one; false to let the route answer 405. */
export type PreflightHandler = (res: HttpResponse, req: HttpRequest) => boolean;
const preflights = new WeakMap<TemplatedApp, PreflightHandler>();

/** Route OPTIONS requests on `app`'s routes (and its catch-all) through `handler` first. */
export function onPreflight(app: TemplatedApp, handler: PreflightHandler): void {
  preflights.set(app, handler);
}

/** The app's preflight handler answered the request (access.ts decides). */
export function preflighted(app: TemplatedApp, res: HttpResponse, req: HttpRequest): boolean {
  return req.getMethod() === 'options' && preflights.get(app)?.(res, req) === true;
}

/**
 * Registers `handler` for `method` on each pattern. A GET route answers HEAD the same way without
 * a body; any other method gets 405 with an Allow header (RFC 9110 15.5.6), and no body on HEAD.
 */
export function route(app: TemplatedApp, method: 'get' | 'post', patterns: readonly string[], handler: RouteHandler): void {
  routeMethods(app, patterns, { [method]: handler });
}

/** Like route(), for patterns that take both GET and POST (each pattern gets one 405 catch-all). */
export function routeMethods(app: TemplatedApp, patterns: readonly string[], handlers: { get?: RouteHandler; post?: RouteHandler }): void {
  const allow = [handlers.get ? 'GET, HEAD' : '', handlers.post ? 'POST' : ''].filter((m) => m !== '').join(', ');
  const getHandler = handlers.get;
  const postHandler = handlers.post;
  // Health and /metrics answer under any load (probes and scrapers must see an overloaded gateway).
  const admission = patterns.every((p) => p.startsWith('/v2/health/') || p === '/metrics') ? undefined : admissionOf(app);
  const get = getHandler && admitted(admission, getHandler, false);
  const head = getHandler && admitted(admission, getHandler, true);
  const post = postHandler && admitted(admission, postHandler, false);
  const other = (res: HttpResponse, req: HttpRequest): void => {
    if (preflighted(app, res, req)) return;
    const verb = req.getMethod().toUpperCase();
    const e = new SluiceError('SLUICE_E_HTTP_METHOD_NOT_ALLOWED', `${verb} is not allowed on ${req.getUrl()}; use ${allow}`);
    new HttpCall(res, verb === 'HEAD').error(e, undefined, { Allow: allow });
  };
  for (const pattern of patterns) {
    if (get && head) {
      app.get(pattern, get);
      app.head(pattern, head);
    }
    if (post) app.post(pattern, post);
    app.any(pattern, other);
  }
}

/** A uWS handler that puts the call through the front first (shedding, then the connection cap). */
function admitted(admission: Admission | undefined, handler: RouteHandler, head: boolean): (res: HttpResponse, req: HttpRequest) => void {
  if (admission === undefined) return (res, req) => handler(new HttpCall(res, head), req);
  return (res, req) => {
    const refusal = admission.front();
    if (refusal !== undefined) new HttpCall(res, head).error(refusal);
    else handler(new HttpCall(res, head, admission), req);
  };
}

/** Route parameter i, percent-decoded (left as sent when it is not valid percent-encoding). */
export function param(req: HttpRequest, i: number): string {
  const raw = req.getParameter(i);
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const SMALL_BODY = Buffer.poolSize >>> 1;
/** Bodies declared up to this size get their whole buffer at once; larger ones grow as bytes arrive. */
export const EAGER_BYTES = 1024 * 1024;

export interface ReadBodyOptions {
  limit: number;
  /** Start the body this many bytes into an 8-aligned buffer, so typed-array views after a header of this length are aligned. */
  alignAfter?: number;
}

/** Where readBodyTo() hands a body: exactly one of the two is called, once. */
export interface BodySink {
  /** The whole body (an exclusive buffer: give it back with releaseBody()). */
  body(body: Buffer): void;
  /** A coded 413/400, or (with a front) 503 past the body budget and 408 past the body deadline. */
  bodyFailed(err: unknown): void;
}

/**
 * Read the request body. Must be called synchronously in the handler (uWS rule), after HttpCall
 * registered onAborted. Resolves with the body (an exclusive buffer), or rejects with a coded
 * 413/400, or (with a front) 503 past the body budget and 408 past the body deadline. The
 * content-length header is read from `req` now, as req dies after the handler returns.
 */
export function readBody(call: HttpCall, req: HttpRequest, options: ReadBodyOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => readBodyTo(call, req, options, { body: resolve, bodyFailed: reject }));
}

/**
 * readBody() without a promise, for the infer route: one reader object per call instead of a
 * promise, its executor and the closures around it (allocation per call, issue 20).
 */
export function readBodyTo(call: HttpCall, req: HttpRequest, options: ReadBodyOptions, sink: BodySink): void {
  const lengthHeader = req.getHeader('content-length');
  const declared = lengthHeader === '' ? -1 : Number(lengthHeader);
  if (declared > options.limit) return sink.bodyFailed(tooLarge(options.limit));
  if (lengthHeader !== '' && !(Number.isInteger(declared) && declared >= 0)) {
    return sink.bodyFailed(new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', 'content-length is not a valid length'));
  }
  // The declared length is reserved before a byte is read: a client cannot make the gateway hold more than its budget.
  if (declared > 0 && !call.reserveBody(declared)) return sink.bodyFailed(call.admission!.bodyRefusal(declared));
  const reader = new BodyReader(call, sink, options, declared);
  call.res.onData((chunk, isLast) => reader.data(chunk, isLast));
}

/** One body being read: its buffer, and (with a front) its entry in the body deadlines. */
class BodyReader extends BodyRead {
  readonly #call: HttpCall;
  readonly #sink: BodySink;
  readonly #limit: number;
  readonly #declared: number;
  readonly #shift: number;
  /** The most the buffer may grow to: the declared length, else the limit. */
  readonly #cap: number;
  #capacity: number;
  #backing: Buffer;
  #size = 0;
  #failed = false;
  /** The front's body deadlines, which track this read until its last byte. */
  readonly #deadlines: BodyDeadlines | undefined;

  constructor(call: HttpCall, sink: BodySink, options: ReadBodyOptions, declared: number) {
    super();
    this.#call = call;
    this.#sink = sink;
    this.#limit = options.limit;
    this.#declared = declared;
    this.#shift = options.alignAfter === undefined ? 0 : (8 - (options.alignAfter % 8)) % 8;
    // Up to EAGER_BYTES the whole declared length at once (one copy per byte); past it the buffer
    // grows by 4x steps as bytes come, so a slow client that declared 64 MiB holds what it sent.
    this.#cap = declared >= 0 ? declared : options.limit;
    this.#capacity = declared >= 0 ? Math.min(declared, EAGER_BYTES) : 16 * 1024;
    // Small bodies (JSON calls) come from Node's shared pool: no allocation of their own, less GC.
    // Their bytes are parsed or copied into a batch, never moved to a worker, so sharing is safe.
    // Large ones (tensors) come from the gateway's buffer pool: give them back with releaseBody().
    const bytes = this.#capacity + this.#shift;
    this.#backing = bytes <= SMALL_BODY ? Buffer.allocUnsafe(bytes) : pooledBuffer(bytes);
    this.#deadlines = call.admission?.deadlines;
    if (this.#deadlines !== undefined) {
      this.startedUs = this.#deadlines.now();
      this.#deadlines.add(this);
    }
  }

  /** Past the body deadline (BodyDeadlines calls it). */
  override expire(err: SluiceError): void {
    this.#call.admission!.refused.body_timeout++;
    this.#fail(err);
  }

  #fail(err: unknown): void {
    this.#failed = true;
    this.#deadlines?.delete(this);
    releaseBody(this.#backing);
    this.#sink.bodyFailed(err);
  }

  data(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.#failed) return;
    const n = chunk.byteLength;
    const size = this.#size;
    if (size + n > this.#limit) return this.#fail(tooLarge(this.#limit));
    // Without a content-length (chunked) the budget is reserved as bytes come.
    if (this.#declared < 0 && !this.#call.reserveBody(n)) return this.#fail(this.#call.admission!.bodyRefusal(n));
    const shift = this.#shift;
    if (size + n > this.#capacity) {
      this.#capacity = Math.min(this.#cap, Math.max(this.#capacity * (this.#declared >= 0 ? 4 : 2), size + n));
      const next = pooledBuffer(this.#capacity + shift);
      this.#backing.copy(next, shift, shift, shift + size);
      releaseBody(this.#backing);
      this.#backing = next;
    }
    this.#backing.set(new Uint8Array(chunk), shift + size);
    this.#size = size + n;
    if (isLast) {
      this.#deadlines?.delete(this);
      this.#sink.body(this.#backing.subarray(shift, shift + this.#size));
    }
  }
}

function pooledBuffer(bytes: number): Buffer {
  return Buffer.from(bufferPool.take(bytes), 0, bytes);
}

/**
 * Hand a body from readBody() back for reuse once nothing reads it any more: its tensors were
 * copied into a batch or the call failed. Bodies not from the pool (small ones) are ignored.
 */
export function releaseBody(body: Uint8Array): void {
  bufferPool.give(body.buffer as ArrayBuffer);
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError('SLUICE_E_HTTP_BODY_TOO_LARGE', `request body is larger than the limit of ${limit} bytes`);
}
