// Follows a file another machine's process appends to (a Slurm job's output on a shared
// filesystem): each read() passes on the bytes past the last offset, as lines.
import { open } from 'node:fs/promises';
import { LineSplitter } from './lines.js';

const CHUNK = 64 * 1024;

export class FileTail {
  readonly #path: string;
  readonly #lines: LineSplitter;
  readonly #buffer = Buffer.alloc(CHUNK);
  #offset = 0;
  #ended = false;

  constructor(path: string, onLine: (line: string) => void) {
    this.#path = path;
    this.#lines = new LineSplitter(onLine);
  }

  /** Pass on everything written since the last read; a file not created yet is empty. */
  async read(): Promise<void> {
    if (this.#ended) return;
    let file;
    try {
      file = await open(this.#path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      for (;;) {
        const { bytesRead } = await file.read(this.#buffer, 0, CHUNK, this.#offset);
        if (bytesRead === 0) break;
        this.#offset += bytesRead;
        this.#lines.push(this.#buffer.subarray(0, bytesRead));
      }
    } finally {
      await file.close();
    }
  }

  /** The writer is gone: read the rest and pass on a last line without its newline. */
  async end(): Promise<void> {
    await this.read();
    if (!this.#ended) this.#lines.end();
    this.#ended = true;
  }
}
