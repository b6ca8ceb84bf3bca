// An HTTP/1.1 response parser for the load generator: just enough framing (Content-Length and
// chunked) to find where each response ends on a keep-alive connection, and the status code. It
// copies nothing until a response is complete, so the client stays cheap next to the servers it
// measures. Bodies are kept because the runner checks the first answer of every scenario.

const CRLF2 = Buffer.from('\r\n\r\n');

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
}

type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-trailer';

export class ResponseParser {
  #buf: Buffer = Buffer.alloc(0);
  #state: State = 'head';
  #status = 0;
  #headers: Record<string, string> = {};
  #remaining = 0;
  #parts: Buffer[] = [];
  readonly #onResponse: (res: HttpResponse) => void;

  constructor(onResponse: (res: HttpResponse) => void) {
    this.#onResponse = onResponse;
  }

  /** Drop any partial response (the connection was reset). */
  reset(): void {
    this.#buf = Buffer.alloc(0);
    this.#state = 'head';
    this.#parts = [];
  }

  feed(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#step());
  }

  /** Consume what the current state can; true when it made progress and should run again. */
  #step(): boolean {
    const buf = this.#buf;
    switch (this.#state) {
      case 'head': {
        const end = buf.indexOf(CRLF2);
        if (end < 0) return false;
        this.#parseHead(buf.toString('latin1', 0, end));
        this.#buf = buf.subarray(end + 4);
        return true;
      }
      case 'body': {
        const n = Math.min(this.#remaining, buf.length);
        if (n > 0) this.#parts.push(buf.subarray(0, n));
        this.#remaining -= n;
        this.#buf = buf.subarray(n);
        if (this.#remaining > 0) return false;
        this.#emit();
        return true;
      }
      case 'chunk-size': {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return false;
        const size = parseInt(buf.toString('latin1', 0, eol).split(';')[0]!, 16);
        if (!Number.isFinite(size) || size < 0) throw new ResponseParseError(`bad chunk size line: ${buf.toString('latin1', 0, eol)}`);
        this.#buf = buf.subarray(eol + 2);
        this.#remaining = size;
        this.#state = size === 0 ? 'chunk-trailer' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        if (buf.length < this.#remaining + 2) return false;
        this.#parts.push(buf.subarray(0, this.#remaining));
        this.#buf = buf.subarray(this.#remaining + 2);
        this.#state = 'chunk-size';
        return true;
      }
      case 'chunk-trailer': {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return false;
        this.#buf = buf.subarray(eol + 2);
        if (eol === 0) this.#emit();
        return true;
      }
    }
  }

  #parseHead(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new ResponseParseError(`bad status line: ${JSON.stringify(lines[0])}`);
    this.#status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.#headers = headers;
    this.#parts = [];
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      this.#state = 'chunk-size';
      return;
    }
    const length = headers['content-length'];
    if (length === undefined) {
      // 204/304 and 1xx carry no body; anything else must be framed for keep-alive to work.
      if (this.#status === 204 || this.#status === 304 || this.#status < 200) {
        this.#remaining = 0;
        this.#state = 'body';
        return;
      }
      throw new ResponseParseError(`response ${this.#status} has neither content-length nor chunked encoding`);
    }
    this.#remaining = Number(length);
    if (!Number.isInteger(this.#remaining) || this.#remaining < 0) throw new ResponseParseError(`bad content-length: ${length}`);
    this.#state = 'body';
  }

  #emit(): void {
    const body = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    this.#parts = [];
    this.#state = 'head';
    this.#onResponse({ status: this.#status, headers: this.#headers, body });
  }
}
