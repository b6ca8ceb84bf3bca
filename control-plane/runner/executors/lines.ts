// Turns a byte stream (a pipe, or a file followed by offset) into lines for `onLine`: UTF-8 is
// decoded across chunk boundaries, a partial last line waits for its newline (or for end()), CRLF
// loses its CR, and one line is bounded so a trainer printing megabytes without a newline cannot
// grow the runner's memory or a job's log without limit.
import { StringDecoder } from 'node:string_decoder';

/** Longest line passed on, in UTF-16 code units; the rest of a longer line is dropped and counted. */
export const MAX_LINE_CHARS = 64 * 1024;

export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #emit: (line: string) => void;
  readonly #max: number;
  #partial = '';
  #dropped = 0;

  constructor(emit: (line: string) => void, maxLineChars = MAX_LINE_CHARS) {
    if (!Number.isInteger(maxLineChars) || maxLineChars < 1) throw new RangeError(`maxLineChars must be a positive integer, got ${maxLineChars}`);
    this.#emit = emit;
    this.#max = maxLineChars;
  }

  push(chunk: Buffer): void {
    this.#take(this.#decoder.write(chunk));
  }

  /** The stream ended: flush the decoder and a last line without a newline. */
  end(): void {
    this.#take(this.#decoder.end());
    if (this.#partial.length > 0 || this.#dropped > 0) this.#flush();
  }

  #take(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.#append(text.slice(start, nl));
      this.#flush();
      start = nl + 1;
    }
    if (start < text.length) this.#append(text.slice(start));
  }

  #append(piece: string): void {
    const room = this.#max - this.#partial.length;
    if (piece.length <= room) {
      this.#partial += piece;
    } else {
      this.#partial += piece.slice(0, room);
      this.#dropped += piece.length - room;
    }
  }

  #flush(): void {
    let line = this.#partial.endsWith('\r') && this.#dropped === 0 ? this.#partial.slice(0, -1) : this.#partial;
    if (this.#dropped > 0) line += ` […${this.#dropped} more characters dropped]`;
    this.#partial = '';
    this.#dropped = 0;
    this.#emit(line);
  }
}
