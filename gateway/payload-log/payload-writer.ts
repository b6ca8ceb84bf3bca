// The payload log's files: one folder per model under the log folder, JSON lines in files named by
// the time they were started (`<ms since epoch>.jsonl`), a new file every `rotateMs`. Entries wait
// in a bounded queue and go to disk in batches from a timer, never from a call; when the queue is
// full an entry is dropped and counted. Retention deletes whole files: those older than the model's
// max_age_seconds, then the oldest until the folder is under max_bytes.
import { appendFile, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../lib/log.js';
import type { PayloadLogConfig } from '../models/config.js';

export interface PayloadWriterOptions {
  dir: string;
  logger: Logger;
  /** Entries held in memory at most; more are dropped (default 10,000). */
  queueLimit?: number | undefined;
  /** How often queued entries are written (default 200 ms). */
  flushMs?: number | undefined;
  /** How often retention runs (default 60 s). */
  retentionMs?: number | undefined;
  /** Called with each dropped entry's model (metrics). */
  onDrop?: ((model: string) => void) | undefined;
  onWritten?: ((model: string, entries: number) => void) | undefined;
}

interface Pending {
  model: string;
  config: PayloadLogConfig;
  line: () => string;
}

const FILE = /^([0-9]{13})\.jsonl$/;

export class PayloadWriter {
  readonly #options: PayloadWriterOptions;
  readonly #queueLimit: number;
  #queue: Pending[] = [];
  /** model → [file start, file] of the file being written. */
  readonly #files = new Map<string, { started: number; path: string; bytes: number }>();
  /** model → its latest config, for retention. */
  readonly #configs = new Map<string, PayloadLogConfig>();
  #flushing: Promise<void> = Promise.resolve();
  readonly #flushTimer: NodeJS.Timeout;
  readonly #retentionTimer: NodeJS.Timeout;
  dropped = 0;

  constructor(options: PayloadWriterOptions) {
    this.#options = options;
    this.#queueLimit = options.queueLimit ?? 10_000;
    this.#flushTimer = setInterval(() => void this.flush(), options.flushMs ?? 200).unref();
    this.#retentionTimer = setInterval(() => void this.retain(), options.retentionMs ?? 60_000).unref();
  }

  /** Queue an entry (`line` is built when it is written). False when the queue is full: dropped and counted. */
  push(model: string, config: PayloadLogConfig, line: () => string): boolean {
    if (this.#queue.length >= this.#queueLimit) {
      this.dropped++;
      this.#options.onDrop?.(model);
      return false;
    }
    this.#queue.push({ model, config, line });
    return true;
  }

  /** Write what is queued (one append per model file). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write()).catch((err: unknown) => {
      this.#options.logger.warn({ code: (err as NodeJS.ErrnoException).code, dir: this.#options.dir }, 'payload log write failed; the entries of this batch are lost');
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    const byModel = new Map<string, { config: PayloadLogConfig; lines: string[] }>();
    for (const p of batch) {
      let m = byModel.get(p.model);
      if (m === undefined) byModel.set(p.model, (m = { config: p.config, lines: [] }));
      m.config = p.config;
      m.lines.push(p.line());
    }
    const now = Date.now();
    for (const [model, { config, lines }] of byModel) {
      this.#configs.set(model, config);
      const file = await this.#file(model, config, now);
      const text = `${lines.join('\n')}\n`;
      await appendFile(file.path, text, { mode: 0o600 });
      file.bytes += Buffer.byteLength(text);
      this.#options.onWritten?.(model, lines.length);
    }
  }

  /**
   * A file covers at most a tenth of the retention age (at least a second, at most an hour) and a
   * tenth of the size limit, so that retention, which deletes whole files, is fine-grained.
   */
  async #file(model: string, config: PayloadLogConfig, now: number): Promise<{ started: number; path: string; bytes: number }> {
    const rotateMs = Math.min(3_600_000, Math.max(1000, (config.max_age_seconds * 1000) / 10));
    const current = this.#files.get(model);
    if (current !== undefined && now - current.started < rotateMs && current.bytes < config.max_bytes / 10) return current;
    const dir = join(this.#options.dir, model);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Two files started in one millisecond would share a name: the next one starts a millisecond later.
    const started = current !== undefined && current.started >= now ? current.started + 1 : now;
    const file = { started, path: join(dir, `${started}.jsonl`), bytes: 0 };
    this.#files.set(model, file);
    return file;
  }

  /**
   * Delete files past the age limit, then the oldest past the size limit, per model. Queued behind
   * the writes like a flush, so that two passes (the timer's and a caller's) never race each other
   * or an append.
   */
  retain(now = Date.now()): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#retain(now)).catch((err: unknown) => {
      this.#options.logger.warn({ code: (err as NodeJS.ErrnoException).code, dir: this.#options.dir }, 'payload log retention failed; it runs again at the next interval');
    });
    return this.#flushing;
  }

  async #retain(now: number): Promise<void> {
    for (const [model, config] of this.#configs) {
      const dir = join(this.#options.dir, model);
      let names: string[];
      try {
        names = (await readdir(dir)).filter((n) => FILE.test(n)).sort();
      } catch {
        continue;
      }
      // A file can go between readdir and stat (an operator's hand, another process on the folder).
      const stats = await Promise.all(names.map(async (name) => {
        const s = await stat(join(dir, name)).catch(() => undefined);
        return s && { name, size: s.size, newest: s.mtimeMs };
      }));
      const files = stats.filter((f) => f !== undefined);
      let total = files.reduce((a, f) => a + f.size, 0);
      const active = this.#files.get(model)?.path;
      for (const f of files) {
        // A file's newest entry is as old as its last append.
        const tooOld = now - f.newest > config.max_age_seconds * 1000;
        if (!tooOld && total <= config.max_bytes) break;
        if (join(dir, f.name) === active) this.#files.delete(model);
        await unlink(join(dir, f.name)).catch(() => undefined);
        total -= f.size;
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#flushTimer);
    clearInterval(this.#retentionTimer);
    await this.flush();
  }
}
