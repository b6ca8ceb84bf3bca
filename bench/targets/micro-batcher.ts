// The hand-written micro-batcher of the second peer baseline: calls wait at most `maxDelayMs` for
// others to join, up to `maxBatch`, then run as one batch — on the main thread, as a team adding
// batching to the naive server would first do. Batches never overlap: while one runs, the next fills.

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class MicroBatcher<T, R> {
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #run: (items: T[]) => Promise<R[]>;
  #queue: Pending<T, R>[] = [];
  #timer: NodeJS.Timeout | null = null;
  #running = false;

  constructor(maxBatch: number, maxDelayMs: number, run: (items: T[]) => Promise<R[]>) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    if (!(maxDelayMs >= 0)) throw new RangeError(`maxDelayMs must be >= 0, got ${maxDelayMs}`);
    this.#maxBatch = maxBatch;
    this.#maxDelayMs = maxDelayMs;
    this.#run = run;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else if (this.#timer === null) this.#timer = setTimeout(() => this.#flush(), this.#maxDelayMs);
    });
  }

  #flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#running || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#running = true;
    this.#run(batch.map((p) => p.item)).then(
      (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    ).finally(() => {
      this.#running = false;
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else if (this.#queue.length > 0 && this.#timer === null) this.#timer = setTimeout(() => this.#flush(), this.#maxDelayMs);
    });
  }
}
