// The main thread's side of an I/O thread's calls: the uWS routes the gateway registered (recorded
// by ServingApp) matched the way uWS matches them, and stand-ins for uWS's HttpRequest,
// HttpResponse and WebSocket that turn what the handlers write into messages for the thread
// (io-wire.ts). The handlers run unchanged, so every route, gate, budget and error code is the
// one a single-threaded gateway has.
import type { HttpRequest, HttpResponse, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { Down, ownBuffer, type Outbox, type WsRouteSpec } from './io-wire.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** Segment kinds, in uWS's order of precedence. */
const enum Segment { Static = 0, Param = 1, Wildcard = 2 }

/** uWS's handler priorities: upgrades, then a method's own handler, then `any`. */
const enum Priority { Method = 1, Any = 2 }

interface Route {
  method: string;
  segments: string[];
  kinds: Segment[];
  priority: Priority;
  order: number;
  handler: Handler;
}

export interface Match {
  handler: Handler;
  params: string[];
}

/** The registration methods of ServingApp's record; `del` is uWS's name for DELETE. */
const METHODS: Record<string, string> = { get: 'get', post: 'post', options: 'options', del: 'delete', patch: 'patch', put: 'put', head: 'head', connect: 'connect', trace: 'trace', any: '*' };

function split(path: string): string[] {
  return path.split('/').slice(1);
}

/** The gateway's HTTP and WebSocket routes, matched as uWS 20 matches them. */
export class RouteTable {
  readonly #routes: Route[] = [];
  readonly ws: { spec: WsRouteSpec; behavior: WebSocketBehavior<unknown> }[] = [];
  readonly #cache = new Map<string, Match | null>();

  constructor(registrations: readonly [method: string, args: unknown[]][]) {
    for (const [method, args] of registrations) {
      const pattern = args[0] as string;
      if (method === 'ws') {
        const behavior = args[1] as WebSocketBehavior<unknown>;
        const options: Record<string, number | boolean> = {};
        for (const [k, v] of Object.entries(behavior)) if (typeof v === 'number' || typeof v === 'boolean') options[k] = v;
        this.ws.push({ spec: { pattern, options }, behavior });
        continue;
      }
      const m = METHODS[method];
      if (m === undefined) continue;
      const segments = split(pattern);
      const kinds = segments.map((s) => (s === '*' ? Segment.Wildcard : s.startsWith(':') ? Segment.Param : Segment.Static));
      this.#routes.push({ method: m, segments, kinds, priority: m === '*' ? Priority.Any : Priority.Method, order: this.#routes.length, handler: args[1] as Handler });
    }
  }

  /** The handler uWS would call for `method` (lower case) on `url`, with its parameters. */
  match(method: string, url: string): Match | undefined {
    const key = `${method} ${url}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.#find(method, split(url));
    // Model names make the set of URLs open-ended: bound the cache.
    if (this.#cache.size >= 4096) this.#cache.clear();
    this.#cache.set(key, found ?? null);
    return found;
  }

  #find(method: string, parts: string[]): Match | undefined {
    let best: Route | undefined;
    let bestParams: string[] = [];
    for (const r of this.#routes) {
      if (r.method !== method && r.method !== '*') continue;
      const params = matches(r, parts);
      if (params === undefined) continue;
      if (best === undefined || precedes(r, best)) {
        best = r;
        bestParams = params;
      }
    }
    return best && { handler: best.handler, params: bestParams };
  }
}

function matches(r: Route, parts: string[]): string[] | undefined {
  const params: string[] = [];
  for (let i = 0; i < r.segments.length; i++) {
    const kind = r.kinds[i]!;
    if (kind === Segment.Wildcard) return params;
    const part = parts[i];
    if (part === undefined) return undefined;
    if (kind === Segment.Param) {
      if (part === '') return undefined;
      params.push(part);
    } else if (part !== r.segments[i]) {
      return undefined;
    }
  }
  return parts.length === r.segments.length ? params : undefined;
}

/** uWS walks its tree static-first segment by segment; at one node, higher priority, then first registered. */
function precedes(a: Route, b: Route): boolean {
  const n = Math.min(a.kinds.length, b.kinds.length);
  for (let i = 0; i < n; i++) if (a.kinds[i] !== b.kinds[i]) return a.kinds[i]! < b.kinds[i]!;
  if (a.kinds.length !== b.kinds.length) return a.kinds.length > b.kinds.length;
  if (a.priority !== b.priority) return a.priority < b.priority;
  return a.order < b.order;
}

/** uWS's HttpRequest, from the fields an I/O thread copied before its handler returned. */
export class RelayedRequest {
  readonly #method: string;
  readonly #url: string;
  readonly #query: string;
  readonly #headers: string[];
  params: string[] = [];

  constructor(method: string, url: string, query: string, headers: string[]) {
    this.#method = method;
    this.#url = url;
    this.#query = query;
    this.#headers = headers;
  }

  getHeader(lowerCaseKey: string): string {
    const h = this.#headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === lowerCaseKey) return h[i + 1]!;
    return '';
  }

  getMethod(): string {
    return this.#method;
  }

  getCaseSensitiveMethod(): string {
    return this.#method.toUpperCase();
  }

  getUrl(): string {
    return this.#url;
  }

  getQuery(key?: string): string | undefined {
    if (key === undefined) return this.#query;
    return new URLSearchParams(this.#query).get(key) ?? undefined;
  }

  getParameter(index: number): string {
    return this.params[index] ?? '';
  }

  forEach(cb: (key: string, value: string) => void): void {
    const h = this.#headers;
    for (let i = 0; i < h.length; i += 2) cb(h[i]!, h[i + 1]!);
  }

  setYield(_y: boolean): this {
    return this;
  }
}

type DataHandler = (chunk: ArrayBuffer, isLast: boolean) => void;

/** uWS's HttpResponse for a call an I/O thread holds: writes gather into one Respond message. */
export class RelayedResponse {
  readonly id: number;
  readonly #out: Outbox;
  #status = '200 OK';
  #headers: string[] = [];
  #ended = false;
  #aborted: (() => void) | undefined;
  #onData: DataHandler | undefined;
  /** Chunks that came before the handler asked for them (or all of them, when it never does). */
  #early: [ArrayBuffer, boolean][] | undefined;
  /** A call without a body still gets one empty last chunk when its handler reads it (as uWS does). */
  readonly #bodyless: boolean;
  /** Set when the handler upgraded: the socket's user data, kept here until the thread says it opened. */
  upgradedWith: unknown;
  readonly #onUpgrade: ((res: RelayedResponse) => void) | undefined;

  readonly #calls: Map<number, RelayedResponse>;

  constructor(id: number, out: Outbox, hasBody: boolean, calls: Map<number, RelayedResponse>, onUpgrade?: (res: RelayedResponse) => void) {
    this.id = id;
    this.#out = out;
    this.#calls = calls;
    this.#bodyless = !hasBody;
    this.#onUpgrade = onUpgrade;
  }

  get ended(): boolean {
    return this.#ended;
  }

  onAborted(handler: () => void): this {
    this.#aborted = handler;
    return this;
  }

  /** The thread's client went away. */
  abort(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#calls.delete(this.id);
    this.#aborted?.();
  }

  onData(handler: DataHandler): this {
    this.#onData = handler;
    // Delivered at once: readBody (the one reader) registers last, after its state is set up.
    const early = this.#early;
    this.#early = undefined;
    if (early !== undefined) for (const [chunk, last] of early) handler(chunk, last);
    else if (this.#bodyless) handler(new ArrayBuffer(0), true);
    return this;
  }

  /** A chunk of the body from the thread. */
  data(chunk: ArrayBuffer, last: boolean): void {
    if (this.#onData !== undefined) this.#onData(chunk, last);
    else (this.#early ??= []).push([chunk, last]);
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }

  writeStatus(status: string): this {
    this.#status = status;
    return this;
  }

  writeHeader(key: string, value: string): this {
    this.#headers.push(key, value);
    return this;
  }

  end(body?: string | Uint8Array | ArrayBuffer, closeConnection = false): this {
    this.#send(body, closeConnection, false);
    return this;
  }

  endWithoutBody(): this {
    this.#send(undefined, false, true);
    return this;
  }

  #send(body: string | Uint8Array | ArrayBuffer | undefined, close: boolean, withoutBody: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#calls.delete(this.id);
    if (body === undefined || typeof body === 'string') {
      this.#out.push([Down.Respond, this.id, this.#status, this.#headers, body, close, withoutBody]);
    } else {
      const copy = ownBuffer(body);
      this.#out.push([Down.Respond, this.id, this.#status, this.#headers, copy, close, withoutBody], copy);
    }
  }

  upgrade(userData: unknown, key: string, protocol: string, extensions: string, _context: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#calls.delete(this.id);
    this.upgradedWith = userData;
    this.#onUpgrade?.(this);
    this.#out.push([Down.Accept, this.id, key, protocol, extensions]);
  }
}

/** uWS's WebSocket for a socket an I/O thread holds. */
export class RelayedSocket {
  readonly id: number;
  readonly #out: Outbox;
  readonly #data: unknown;
  /** The thread's last figure of unsent bytes (it tells changes after sends and on drain). */
  buffered = 0;
  closed = false;

  constructor(id: number, out: Outbox, data: unknown) {
    this.id = id;
    this.#out = out;
    this.#data = data;
  }

  getUserData(): unknown {
    return this.#data;
  }

  getBufferedAmount(): number {
    return this.buffered;
  }

  send(message: string | Uint8Array | ArrayBuffer, isBinary = false): number {
    if (this.closed) return 2;
    if (typeof message === 'string') {
      this.#out.push([Down.Send, this.id, message, isBinary]);
    } else {
      const copy = ownBuffer(message);
      this.#out.push([Down.Send, this.id, copy, isBinary], copy);
    }
    return 1;
  }

  end(code?: number, reason?: string): void {
    if (this.closed) return;
    this.#out.push([Down.End, this.id, code ?? 1000, reason ?? '']);
  }

  close(): void {
    this.end(1006, '');
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }
}

export type { WebSocket };
