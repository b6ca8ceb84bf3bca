// The generator's WebSocket transport for Sluice's /v2/ws: calls share a socket (up to
// `slotsPerSocket` in flight on each), matched to their answers by id. A call given up at its
// deadline only forgets its id — WebSocket needs no reconnect to cancel, unlike HTTP/1.1.
import WebSocket from 'ws';
import type { HttpResponse } from './response-parser.js';
import type { CallDone, CallSlot } from './call-slot.js';

/** Calls carry `"id":"<8 hex digits>"` at a fixed place of a pre-built frame; see workloads.wsFrame. */
export const WS_ID_WIDTH = 8;

export interface WsTemplate {
  frame: Buffer;
  /** Byte offset of the id's first digit. */
  idOffset: number;
  binary: boolean;
}

class WsSocket {
  #ws: WebSocket | null = null;
  #open = false;
  #queued: { frame: Buffer; binary: boolean }[] = [];
  readonly #pending = new Map<string, WsSlot>();
  #nextId = 0;

  constructor(readonly url: string) {}

  send(slot: WsSlot, t: WsTemplate): string {
    const id = (this.#nextId++ & 0xffffffff).toString(16).padStart(WS_ID_WIDTH, '0');
    // A copy per call: `ws` may still hold the previous call's buffer while it flushes.
    const frame = Buffer.from(t.frame);
    frame.write(id, t.idOffset, 'latin1');
    this.#pending.set(id, slot);
    if (this.#ws === null) this.#connect();
    if (this.#open) this.#ws!.send(frame, { binary: t.binary });
    else this.#queued.push({ frame, binary: t.binary });
    return id;
  }

  forget(id: string): void {
    this.#pending.delete(id);
  }

  close(): void {
    this.#ws?.terminate();
    this.#ws = null;
    this.#open = false;
    this.#pending.clear();
  }

  #connect(): void {
    const ws = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    this.#ws = ws;
    ws.on('open', () => {
      this.#open = true;
      for (const q of this.#queued) ws.send(q.frame, { binary: q.binary });
      this.#queued = [];
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#answer(data, isBinary));
    const fail = (err: Error) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#open = false;
      this.#queued = [];
      const slots = [...this.#pending.values()];
      this.#pending.clear();
      for (const s of slots) s.finish(err, null);
    };
    ws.on('error', fail);
    ws.on('close', (code: number) => fail(new Error(`websocket closed (${code})`)));
  }

  #answer(data: Buffer, isBinary: boolean): void {
    const json = isBinary ? data.toString('utf8', 4, 4 + data.readUInt32LE(0)) : data.toString('utf8');
    const m = /"id":"([0-9a-f]+)"/.exec(json);
    const slot = m ? this.#pending.get(m[1]!) : undefined;
    if (!slot) return;
    this.#pending.delete(m![1]!);
    const status = /"error":/.test(json) ? Number(/"status":(\d+)/.exec(json)?.[1] ?? 500) : 200;
    const res: HttpResponse = { status, headers: {}, body: isBinary ? data : Buffer.from(json) };
    slot.finish(null, res);
  }
}

export class WsSlot implements CallSlot {
  deadline = Infinity;
  intendedAt = 0;
  #done: CallDone | null = null;
  #id = '';

  constructor(
    readonly socket: WsSocket,
    readonly templates: Map<Buffer, WsTemplate>,
  ) {}

  get busy(): boolean {
    return this.#done !== null;
  }

  send(request: Buffer, deadline: number, done: CallDone): void {
    this.#done = done;
    this.deadline = deadline;
    this.#id = this.socket.send(this, this.templates.get(request)!);
  }

  abandon(reason: Error): void {
    this.socket.forget(this.#id);
    this.finish(reason, null);
  }

  close(): void {
    this.#done = null;
    this.socket.close();
  }

  finish(err: Error | null, res: HttpResponse | null): void {
    const done = this.#done;
    if (done === null) return;
    this.#done = null;
    this.deadline = Infinity;
    done(err, res);
  }
}

/** `count` slots over ceil(count / slotsPerSocket) sockets to `url` (ws://host:port/v2/ws). */
export function wsSlots(url: string, count: number, slotsPerSocket: number, templates: WsTemplate[]): { slots: WsSlot[]; requests: Buffer[] } {
  const byFrame = new Map(templates.map((t) => [t.frame, t]));
  const sockets: WsSocket[] = [];
  const slots = Array.from({ length: count }, (_, i) => {
    const s = Math.floor(i / slotsPerSocket);
    sockets[s] ??= new WsSocket(url);
    return new WsSlot(sockets[s]!, byFrame);
  });
  return { slots, requests: templates.map((t) => t.frame) };
}
